"""The SMS gateway's HTTP API: send a message, read the balance, list what was sent.

The legacy quirk: every answer of the API is ``HTTP 200``, success or not; the outcome is
in the body::

    {"status": "OK", "id": "<uuid>", "parts": 1, "cost": 2.5, "balance": 4997.5}
    {"status": "ERROR", "code": "INVALID_PHONE", "message": "<Russian text>"}

Money is a JSON number (a float), as the old gateway writes it.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import UTILITY_TZ, CallLog, Clock
from emulators.faults import CannedResponse
from emulators.sms.segments import MAX_PARTS, count_parts
from emulators.sms.store import InsufficientBalance, SentSms, SmsStore

DEFAULT_SENDER = "SMS-INFO"
"""The sender name used when a request names none."""

_PHONE = re.compile(r"^7\d{10}$")
_SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,10}$")

ERRORS = {
    "INVALID_REQUEST": "Неверный формат запроса: ожидается JSON-объект",
    "INVALID_API_KEY": "Неверный API-ключ",
    "INVALID_PHONE": "Неверный номер телефона получателя: ожидается 11 цифр, начиная с 7",
    "EMPTY_TEXT": "Пустой текст сообщения",
    "TEXT_TOO_LONG": f"Текст сообщения длиннее {MAX_PARTS} частей",
    "INVALID_SENDER": "Недопустимое имя отправителя: до 11 латинских букв и цифр",
    "INSUFFICIENT_BALANCE": "Недостаточно средств на балансе",
    "INTERNAL_ERROR": "Внутренняя ошибка сервиса. Повторите запрос позже",
}
"""Every error code of the gateway and its message."""


def error_body(code: str) -> dict[str, Any]:
    """The gateway's error answer for ``code``."""
    return {"status": "ERROR", "code": code, "message": ERRORS[code]}


def error(code: str) -> Response:
    """An error answer — with HTTP 200, as the gateway answers everything."""
    return JSONResponse(error_body(code))


def internal_error() -> CannedResponse:
    """What the gateway answers when it breaks inside (the ``error_rate`` fault): still 200."""
    body = json.dumps(error_body("INTERNAL_ERROR"), ensure_ascii=False).encode()
    return CannedResponse(200, body, "application/json")


def normalize_phone(raw: str) -> str:
    """A phone as the listing filter takes it: digits only, a leading 8 read as 7."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def render(message: SentSms) -> dict[str, Any]:
    """A message as ``GET /sms/messages`` lists it."""
    return {
        "id": message.id,
        "phone": message.phone,
        "sender": message.sender,
        "text": message.text,
        "parts": message.parts,
        "sent_at": message.sent_at.astimezone(UTILITY_TZ).isoformat(timespec="seconds"),
    }


def api_routes(store: SmsStore, calls: CallLog, clock: Clock, *, api_key: str) -> list[BaseRoute]:
    """The ``/sms`` API routes."""

    def authorised(given: Any) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), api_key.encode())

    async def send(request: Request) -> Response:
        calls.record("SendSms")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return error("INVALID_REQUEST")
        if not isinstance(body, dict):
            return error("INVALID_REQUEST")
        if not authorised(body.get("api_key", request.headers.get("x-api-key"))):
            return error("INVALID_API_KEY")
        phone = body.get("to")
        if not isinstance(phone, str) or not _PHONE.match(phone):
            return error("INVALID_PHONE")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return error("EMPTY_TEXT")
        parts = count_parts(text)
        if parts > MAX_PARTS:
            return error("TEXT_TOO_LONG")
        sender = body.get("sender") or DEFAULT_SENDER
        if not isinstance(sender, str) or not _SENDER.match(sender):
            return error("INVALID_SENDER")
        try:
            message, left = store.send(
                phone=phone, sender=sender, text=text, parts=parts, now=clock.now()
            )
        except InsufficientBalance:
            return error("INSUFFICIENT_BALANCE")
        return JSONResponse(
            {
                "status": "OK",
                "id": message.id,
                "parts": parts,
                "cost": float(message.cost),
                "balance": float(left),
            }
        )

    async def balance(request: Request) -> Response:
        calls.record("GetBalance")
        given = request.headers.get("x-api-key", request.query_params.get("api_key"))
        if not authorised(given):
            return error("INVALID_API_KEY")
        account = store.account()
        return JSONResponse({"status": "OK", "balance": float(account.balance), "currency": "RUB"})

    async def messages(request: Request) -> Response:
        calls.record("ListMessages")
        phone = normalize_phone(request.query_params.get("phone", ""))
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
        except ValueError:
            return JSONResponse({"error": "limit must be a number"}, status_code=400)
        return JSONResponse([render(m) for m in store.messages(phone or None, limit)])

    return [
        Route("/sms/send", send, methods=["POST"]),
        Route("/sms/balance", balance, methods=["GET"]),
        Route("/sms/messages", messages, methods=["GET"]),
    ]
