"""The return page of card payments (PAY-3): where the acquirer sends the customer after
the card page and 3-D Secure. It shows the payment's status in Russian and follows it by
itself until it is final, then offers the way back to the client's ``returnUrl``.

``GET /payments/{id}/return?sig=…`` is the page, ``GET /payments/{id}/status?sig=…`` the
JSON it polls. The link is signed by the gateway (the customer's browser may carry no
session: a mobile app opens the card page in the system browser), shows nothing but the
payment's group, amount and status, and is never handed on (``Referrer-Policy``). While the
payment is pending, either request asks the acquirer directly (at most every two seconds),
so the page moves on even when a webhook is late.
"""

from __future__ import annotations

import json
import secrets
import uuid
from decimal import Decimal
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gateway.billing.history import PaymentStatus
from gateway.payments.records import GROUP_TITLES, PaymentRecord
from gateway.services import Services

POLL_MS = 2000
MESSAGES = {
    PaymentStatus.PENDING: "Ожидаем подтверждения оплаты от банка. Страница обновится сама.",
    PaymentStatus.SUCCEEDED: "Оплата прошла. Платёж передан поставщику и будет зачислен на "
    "лицевой счёт в ближайшее время.",
    PaymentStatus.BOOKED: "Платёж зачислен на лицевой счёт.",
}
_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def rubles(amount: Decimal) -> str:
    """``1 234,50 ₽`` (a no-break space between thousands and before the sign)."""
    whole, _, kopecks = f"{amount:.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", "\u00a0")
    return f"{groups},{kopecks}\u00a0₽"


def message_of(payment: PaymentRecord) -> str:
    """What the page says under the status."""
    return payment.reason_text or MESSAGES.get(payment.status, "")


def state_of(payment: PaymentRecord) -> dict[str, object]:
    """The JSON the page polls."""
    return {
        "status": payment.status.name,
        "statusText": payment.status_text,
        "message": message_of(payment),
        "final": payment.is_final,
    }


async def _payment(request: Request) -> PaymentRecord | None:
    services: Services = request.app.state.services
    try:
        payment_id = uuid.UUID(request.path_params["payment_id"])
    except ValueError:
        return None
    if not services.payments.verify_return_token(payment_id, request.query_params.get("sig", "")):
        return None
    found = await services.payments.get(payment_id)
    if found is None:
        return None
    return await services.payments.refresh(found, source="return_page")


def _not_found() -> HTMLResponse:
    return HTMLResponse(
        _page("Платёж не найден", "<h1>Платёж не найден</h1><p>Ссылка недействительна.</p>", ""),
        status_code=404,
        headers=_HEADERS,
    )


def _page(title: str, content: str, nonce: str, script: str = "") -> str:
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:Arial,sans-serif;max-width:32rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}.status{font-size:1.4rem;font-weight:bold}"
        ".muted{color:#555}a.button{display:inline-block;margin-top:1rem;padding:.6rem 1rem;"
        "background:#0b5;color:#fff;text-decoration:none;border-radius:.3rem}</style>"
        f"</head><body>{content}"
        + (f'<script nonce="{nonce}">{script}</script>' if script else "")
        + "</body></html>"
    )


async def return_page(request: Request) -> Response:
    """The page the customer lands on after paying."""
    payment = await _payment(request)
    if payment is None:
        return _not_found()
    nonce = secrets.token_urlsafe(16)
    status_url = f"/payments/{payment.id}/status?sig={request.query_params['sig']}"  # verified hex
    refresh = "" if payment.is_final else '<meta http-equiv="refresh" content="5">'
    content = (
        f"<h1>Оплата по лицевому счёту {escape(payment.account_number)}</h1>"
        f'<p class="muted">{escape(GROUP_TITLES[payment.group])}</p>'
        f"<p>Сумма: <strong>{escape(rubles(payment.amount))}</strong></p>"
        f'<div role="status" aria-live="polite">'
        f'<p id="status" class="status" data-status="{payment.status.name}">'
        f"{escape(payment.status_text)}</p>"
        f'<p id="message">{escape(message_of(payment))}</p></div>'
        f"<noscript>{refresh}</noscript>"
        f'<a class="button" href="{escape(payment.return_url)}">Вернуться в личный кабинет</a>'
    )
    script = "" if payment.is_final else _poller(status_url)
    headers = {
        **_HEADERS,
        "content-security-policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
            "style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }
    return HTMLResponse(_page("Оплата", content, nonce, script), headers=headers)


def _poller(status_url: str) -> str:
    return (
        f"const url={json.dumps(status_url)};"
        "const statusEl=document.getElementById('status');"
        "const messageEl=document.getElementById('message');"
        "async function poll(){"
        "try{const r=await fetch(url,{cache:'no-store'});"
        "if(r.ok){const s=await r.json();"
        "statusEl.textContent=s.statusText;statusEl.dataset.status=s.status;"
        "messageEl.textContent=s.message;if(s.final){return;}}}catch(e){}"
        f"setTimeout(poll,{POLL_MS});}}"
        f"setTimeout(poll,{POLL_MS});"
    )


async def payment_status(request: Request) -> Response:
    """The payment's status as JSON, for the page's poller."""
    payment = await _payment(request)
    if payment is None:
        return JSONResponse({"error": "not_found"}, status_code=404, headers=_HEADERS)
    return JSONResponse(state_of(payment), headers=_HEADERS)


routes = [
    Route("/payments/{payment_id}/return", return_page, methods=["GET", "HEAD"]),
    Route("/payments/{payment_id}/status", payment_status, methods=["GET"]),
]
