"""The pages a customer sees: the hosted card form and the issuer's 3-D Secure page.

Plain server-rendered HTML in Russian, self-contained (no scripts, no CDN), posting
``application/x-www-form-urlencoded`` forms, as payment pages of the old acquirers do.
After the payment is decided the customer is sent (303) back to the shop's ``return_url``.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.acquirer.cards import TEST_CARDS, THREE_DS_CODE, CardError
from emulators.acquirer.processing import Processor, UnknownPayment, WrongStage
from emulators.acquirer.store import PaymentRow, Stage
from emulators.base import CallLog
from emulators.data import RETAILER

REASONS_RU = {
    "insufficient_funds": "недостаточно средств на карте",
    "3d_secure_failed": "не пройдена проверка 3-D Secure",
    "expired_on_confirmation": "истекло время на оплату",
    "general_decline": "банк отклонил платёж",
}

_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;background:#eef1f5;margin:0;color:#1d2733}
main{max-width:460px;margin:32px auto;background:#fff;border:1px solid #cfd6df;padding:24px 28px}
h1{font-size:20px;margin:0 0 4px}.shop{color:#5b6673;font-size:13px;margin-bottom:16px}
.amount{font-size:28px;font-weight:bold;margin:8px 0}.desc{color:#39424d;margin-bottom:16px}
label{display:block;font-size:13px;color:#5b6673;margin:12px 0 4px}
input{font-size:16px;padding:8px;border:1px solid #aab4bf;width:100%;box-sizing:border-box}
.row{display:flex;gap:12px}.row div{flex:1}
button{margin-top:18px;width:100%;padding:12px;font-size:16px;background:#1f6fd1;color:#fff;
border:0;cursor:pointer}button.secondary{background:#fff;color:#1f6fd1;border:1px solid #1f6fd1}
.error{background:#fdecea;border:1px solid #e0a19b;color:#8a1c12;padding:10px;margin:12px 0}
.note{font-size:12px;color:#5b6673;margin-top:20px}table{border-collapse:collapse;width:100%}
td{border-top:1px solid #e3e7ec;padding:4px 2px;font-size:12px}
.bank{background:#20324a;color:#fff;padding:10px 14px;margin:-24px -28px 18px}
"""


def rubles(amount: Decimal) -> str:
    """``1 234,56 ₽`` — the amount as Russian pages write it."""
    whole, _, cents = f"{amount:.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return "\u00a0".join(groups) + f",{cents}\u00a0₽"


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{content}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _summary(payment: PaymentRow) -> str:
    description = (
        f'<div class="desc">{escape(payment.description)}</div>' if payment.description else ""
    )
    return (
        f'<div class="shop">{escape(RETAILER)}</div>'
        f'<div class="amount">{rubles(payment.amount)}</div>{description}'
    )


def _test_cards() -> str:
    rows = "".join(
        f"<tr><td>{' '.join(c.number[i : i + 4] for i in range(0, 16, 4))}</td>"
        f"<td>{escape(c.title)}</td></tr>"
        for c in TEST_CARDS
    )
    return (
        '<div class="note"><b>Тестовый режим</b>: деньги не списываются. Тестовые карты '
        "(срок действия — любой в будущем, CVC — любые три цифры):"
        f"<table>{rows}</table>Код 3-D Secure: <b>{THREE_DS_CODE}</b></div>"
    )


def _card_form(
    payment: PaymentRow, error: CardError | None = None, number: str = "", expiry: str = ""
) -> HTMLResponse:
    problem = f'<div class="error" role="alert">{escape(error.message)}</div>' if error else ""
    content = (
        "<h1>Оплата банковской картой</h1>"
        f"{_summary(payment)}{problem}"
        f'<form method="post" action="/checkout/{escape(payment.id)}">'
        '<label for="card_number">Номер карты</label>'
        '<input id="card_number" name="card_number" inputmode="numeric"'
        ' autocomplete="cc-number" placeholder="0000 0000 0000 0000"'
        f' value="{escape(number)}">'
        '<div class="row"><div><label for="expiry">Срок действия</label>'
        '<input id="expiry" name="expiry" autocomplete="cc-exp" placeholder="ММ/ГГ"'
        f' value="{escape(expiry)}"></div>'
        '<div><label for="cvc">CVC/CVV</label>'
        '<input id="cvc" name="cvc" type="password" inputmode="numeric"'
        ' autocomplete="cc-csc" maxlength="3" placeholder="123"></div></div>'
        f'<button type="submit">Оплатить {rubles(payment.amount)}</button></form>'
        f"{_test_cards()}"
    )
    return _page("Оплата картой", content)


def _state_page(payment: PaymentRow) -> HTMLResponse:
    back = f'<p><a href="{escape(payment.return_url)}">Вернуться в магазин</a></p>'
    if payment.status == "succeeded":
        title, text = "Платёж выполнен", "Оплата прошла успешно. Спасибо!"
    elif payment.status == "canceled":
        reason = REASONS_RU.get(payment.cancel_reason or "", "платёж отклонён")
        title, text = "Платёж отменён", f"Оплата не прошла: {reason}."
    else:
        title = "Ожидаем ответа банка"
        text = "Банк ещё не подтвердил операцию. Статус платежа придёт в магазин."
    content = f"<h1>{title}</h1>{_summary(payment)}<p>{escape(text)}</p>{back}"
    return _page(title, content)


def _not_found() -> HTMLResponse:
    return _page(
        "Платёж не найден",
        "<h1>Платёж не найден</h1><p>Ссылка на оплату неверна или устарела.</p>",
        404,
    )


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def page_routes(processor: Processor, calls: CallLog) -> list[BaseRoute]:
    """The hosted checkout page and the 3-D Secure page."""

    def back_to_shop(payment: PaymentRow) -> Response:
        return RedirectResponse(payment.return_url, status_code=303)

    def to(path: str) -> Response:
        return RedirectResponse(path, status_code=303)

    async def checkout(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        calls.record("CheckoutPage" if request.method == "GET" else "CheckoutSubmit")
        try:
            payment = processor.current(payment_id)
        except UnknownPayment:
            return _not_found()
        if request.method == "GET" or payment.stage != Stage.CARD:
            if payment.stage == Stage.CARD:
                return _card_form(payment)
            if payment.stage == Stage.THREE_DS:
                return to(f"/3ds/{payment_id}")
            return _state_page(payment)
        form = await _form(request)
        number, expiry = form.get("card_number", ""), form.get("expiry", "")
        try:
            payment = processor.submit_card(payment_id, number, expiry, form.get("cvc", ""))
        except CardError as exc:
            return _card_form(payment, exc, number, expiry)
        except WrongStage:
            return to(f"/checkout/{payment_id}")
        if payment.stage == Stage.THREE_DS:
            return to(f"/3ds/{payment_id}")
        return back_to_shop(payment)

    async def three_ds(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        calls.record("ThreeDsPage" if request.method == "GET" else "ThreeDsSubmit")
        try:
            payment = processor.current(payment_id)
        except UnknownPayment:
            return _not_found()
        if payment.stage != Stage.THREE_DS:
            return to(f"/checkout/{payment_id}")
        if request.method == "GET":
            return _three_ds_form(payment)
        form = await _form(request)
        code = None if form.get("action") == "cancel" else form.get("code", "")
        try:
            payment = processor.submit_code(payment_id, code)
        except WrongStage:
            return to(f"/checkout/{payment_id}")
        return back_to_shop(payment)

    return [
        Route("/checkout/{payment_id}", checkout, methods=["GET", "POST"]),
        Route("/3ds/{payment_id}", three_ds, methods=["GET", "POST"]),
    ]


def _three_ds_form(payment: PaymentRow) -> HTMLResponse:
    masked = f"{payment.card_first6 or ''}******{payment.card_last4 or ''}"
    content = (
        '<div class="bank">Банк-эмитент · 3-D Secure</div>'
        "<h1>Подтверждение покупки</h1>"
        f"{_summary(payment)}"
        f"<p>Карта {escape(masked)}. Мы отправили одноразовый код в SMS на номер, "
        "привязанный к карте.</p>"
        f'<form method="post" action="/3ds/{escape(payment.id)}">'
        '<label for="code">Код из SMS</label>'
        '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"'
        ' maxlength="6">'
        '<button type="submit" name="action" value="confirm">Подтвердить</button>'
        '<button type="submit" name="action" value="cancel" class="secondary">'
        "Отменить покупку</button></form>"
        f'<div class="note">Тестовый банк: верный код — <b>{THREE_DS_CODE}</b>. '
        "Любой другой код отменит платёж.</div>"
    )
    return _page("3-D Secure", content)
