"""The outbox page: every SMS the gateway sent, newest first, in Russian.

A demo aid (``lkk demo`` prints its address): customers' codes are read here. Plain HTML,
no scripts; it reloads itself every few seconds so a new code shows up on its own.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import UTILITY_TZ, CallLog
from emulators.data import RETAILER
from emulators.sms.api import normalize_phone
from emulators.sms.store import SentSms, SmsStore

REFRESH_SECONDS = 5

_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;background:#eef1f5;margin:0;color:#1d2733}
main{max-width:720px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}.sub{color:#5b6673;font-size:13px;margin-bottom:16px}
form{margin:12px 0 16px}input{font-size:15px;padding:6px;border:1px solid #aab4bf}
button{font-size:15px;padding:6px 12px}
.sms{background:#fff;border:1px solid #cfd6df;border-radius:6px;padding:12px 16px;margin:10px 0}
.meta{color:#5b6673;font-size:13px;margin-bottom:6px}.to{font-weight:bold;color:#1d2733}
.text{white-space:pre-wrap;font-size:16px}.empty{color:#5b6673;padding:24px 0}
"""


def phone_text(phone: str) -> str:
    """``+7 912 345-67-89``."""
    if len(phone) != 11:
        return phone
    return f"+{phone[0]} {phone[1:4]} {phone[4:7]}-{phone[7:9]}-{phone[9:]}"


def rubles(amount: Decimal) -> str:
    """``4 997,50 ₽``."""
    whole, _, cents = f"{amount:.2f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + "\u00a0".join(groups) + f",{cents}\u00a0₽"


def _parts(count: int) -> str:
    if count % 10 == 1 and count % 100 != 11:
        word = "часть"
    elif count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        word = "части"
    else:
        word = "частей"
    return f"{count} {word}"


def _message(message: SentSms) -> str:
    sent = message.sent_at.astimezone(UTILITY_TZ)
    return (
        '<article class="sms">'
        f'<div class="meta"><span class="to">{escape(phone_text(message.phone))}</span>'
        f" · от {escape(message.sender)} · {sent:%d.%m.%Y %H:%M:%S}"
        f" · {_parts(message.parts)}</div>"
        f'<div class="text">{escape(message.text)}</div></article>'
    )


def page_routes(store: SmsStore, calls: CallLog) -> list[BaseRoute]:
    """The ``/sms/outbox`` page."""

    async def outbox(request: Request) -> Response:
        calls.record("OutboxPage")
        raw = request.query_params.get("phone", "")
        phone = normalize_phone(raw)
        messages = store.messages(phone or None, limit=200)
        listing = "".join(_message(m) for m in messages) or (
            '<p class="empty">Сообщений пока нет.</p>'
        )
        account = store.account()
        html = (
            '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
            f"<title>Исходящие SMS</title><style>{_STYLE}</style></head><body><main>"
            "<h1>Исходящие SMS</h1>"
            f'<div class="sub">Эмулятор SMS-шлюза · {escape(RETAILER)} · '
            f"баланс {rubles(account.balance)} · страница обновляется каждые "
            f"{REFRESH_SECONDS} с</div>"
            '<form method="get" action="/sms/outbox"><label for="phone">Телефон</label> '
            f'<input id="phone" name="phone" value="{escape(raw)}" placeholder="79123456789"> '
            '<button type="submit">Показать</button> <a href="/sms/outbox">Все</a></form>'
            f"{listing}</main></body></html>"
        )
        return HTMLResponse(html)

    return [Route("/sms/outbox", outbox, methods=["GET"])]
