"""The SMS gateway's client: send a text to a phone, read the balance.

The gateway answers ``HTTP 200`` to everything and puts the outcome in the body
(``{"status": "OK", "id": …}`` or ``{"status": "ERROR", "code": …, "message": …}``), and
writes money as JSON floats. Here an ``ERROR`` becomes :class:`UpstreamRejected` with the
gateway's code (or :class:`UpstreamUnavailable` for its internal error), and the balance a
:class:`~decimal.Decimal`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from adapters.errors import UpstreamMalformed, UpstreamRejected, UpstreamUnavailable
from adapters.http import UpstreamHttp, UpstreamResponse, json_body, send
from adapters.resilience import Resilience

UPSTREAM = "sms"
CENT = Decimal("0.01")


class SmsErrorCode(StrEnum):
    """The codes of the gateway's ``ERROR`` answers (``UpstreamRejected.code``)."""

    INVALID_REQUEST = "INVALID_REQUEST"
    """The request was not a JSON object (a bug of ours)."""
    INVALID_API_KEY = "INVALID_API_KEY"
    """Our API key is wrong (configuration)."""
    INVALID_PHONE = "INVALID_PHONE"
    """The recipient is not 11 digits starting with 7."""
    EMPTY_TEXT = "EMPTY_TEXT"
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    """More than 8 SMS parts."""
    INVALID_SENDER = "INVALID_SENDER"
    """The sender name is not 1–11 Latin letters, digits, space, ``.``, ``_`` or ``-``."""
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    """Our account at the gateway has run out of money."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """The gateway broke inside: raised as :class:`UpstreamUnavailable`, not rejected."""


TEMPORARY_CODES = frozenset({SmsErrorCode.INTERNAL_ERROR})
"""``ERROR`` codes that mean "try later", not "never"."""


class SmsClient:
    """Text messages through the SMS gateway (one instance, one HTTP client, for the app's
    life)."""

    name = UPSTREAM

    def __init__(
        self, http: UpstreamHttp, resilience: Resilience, api_key: str, sender: str
    ) -> None:
        self.http = http
        self.resilience = resilience
        self.sender = sender
        self._api_key = api_key

    async def send(self, phone: str, text: str) -> str:
        """Send ``text`` to ``phone`` (11 digits, ``79XXXXXXXXX``); return the gateway's
        message id.

        Never retried: the gateway has no idempotency key, so a repeat after a timeout
        could deliver the text twice. A refusal (bad number, no money…) raises
        :class:`UpstreamRejected` with the gateway's code (see :class:`SmsErrorCode`).
        """

        async def call() -> str:
            response = await send(
                self.http,
                UPSTREAM,
                "POST",
                "/sms/send",
                json={"to": phone, "text": text, "sender": self.sender},
                headers={"X-Api-Key": self._api_key},
            )
            message_id = _answer(response).get("id")
            if not isinstance(message_id, str | int) or isinstance(message_id, bool):
                raise UpstreamMalformed(UPSTREAM, "OK answer without a message id")
            if not str(message_id):
                raise UpstreamMalformed(UPSTREAM, "OK answer with an empty message id")
            return str(message_id)

        return await self.resilience.call(call, retry=False)

    async def balance(self) -> Decimal:
        """Our account's balance at the gateway, in roubles (a read: retried)."""
        return await self.resilience.call(self._balance, retry=True)

    async def ping(self) -> None:
        """One cheap authenticated round trip (``GET /sms/balance``) for health probes."""
        await self.resilience.call(self._balance, retry=False)

    async def _balance(self) -> Decimal:
        response = await send(
            self.http, UPSTREAM, "GET", "/sms/balance", headers={"X-Api-Key": self._api_key}
        )
        raw = _answer(response).get("balance")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise UpstreamMalformed(UPSTREAM, "OK answer without a balance")
        try:
            value = Decimal(str(raw))
        except InvalidOperation as exc:
            raise UpstreamMalformed(UPSTREAM, f"balance is not a number: {raw!r}") from exc
        if not value.is_finite():
            raise UpstreamMalformed(UPSTREAM, f"balance is not a number: {raw!r}")
        return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _answer(response: UpstreamResponse) -> dict[str, Any]:
    """The body of an ``OK`` answer; an ``ERROR`` mapped to the exception tree."""
    if response.status_code != 200:
        # The gateway's own answers are always 200; anything else is a proxy or a
        # misrouted URL, not the gateway speaking.
        raise UpstreamMalformed(UPSTREAM, f"unexpected HTTP {response.status_code}")
    body = json_body(UPSTREAM, response)
    if not isinstance(body, dict):
        raise UpstreamMalformed(UPSTREAM, "answer is not a JSON object")
    status = body.get("status")
    if status == "OK":
        return body
    if status != "ERROR":
        raise UpstreamMalformed(UPSTREAM, f"unknown status {status!r}")
    code = body.get("code")
    message = body.get("message")
    if not isinstance(code, str) or not code:
        raise UpstreamMalformed(UPSTREAM, "ERROR answer without a code")
    text = message if isinstance(message, str) else ""
    if code in TEMPORARY_CODES:
        raise UpstreamUnavailable(UPSTREAM, f"{code}: {text}")
    raise UpstreamRejected(UPSTREAM, code, text)
