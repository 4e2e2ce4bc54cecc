"""The acquirer's client: create and read card payments over its REST API v3.

The acquirer authenticates the shop by HTTP Basic (shop id and secret key) and honours an
``Idempotence-Key`` on payment creation, so creation is retried safely: a repeat with the
same key and body returns the first answer instead of a second payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import aiohttp

from adapters.acquirer.models import (
    AcquirerPayment,
    AcquirerPaymentStatus,
    Cancellation,
    CancellationParty,
    CardSummary,
)
from adapters.errors import (
    NotFound,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapters.http import UpstreamHttp, UpstreamResponse, json_body, send
from adapters.resilience import Resilience

UPSTREAM = "acquirer"
CENT = Decimal("0.01")


class AcquirerClient:
    """Card payments through the acquirer (one instance, one HTTP client, for the app's life)."""

    name = UPSTREAM

    def __init__(
        self,
        http: UpstreamHttp,
        resilience: Resilience,
        shop_id: str,
        secret_key: str,
    ) -> None:
        self.http = http
        self.resilience = resilience
        self._auth = {"Authorization": aiohttp.encode_basic_auth(shop_id, secret_key)}

    async def create_payment(
        self,
        amount: Decimal,
        idempotence_key: str,
        return_url: str,
        description: str,
        metadata: Mapping[str, str],
    ) -> AcquirerPayment:
        """Create a one-stage card payment; the customer pays at its ``confirmation_url``.

        Retried on failure: the ``idempotence_key`` makes every try the same payment. A
        repeat of an earlier key returns the payment as it was first created (still
        ``PENDING``): read it with :meth:`get_payment` for its status now.
        """
        body = {
            "amount": {
                "value": str(amount.quantize(CENT, rounding=ROUND_HALF_UP)),
                "currency": "RUB",
            },
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description,
            "metadata": dict(metadata),
        }

        async def call() -> AcquirerPayment:
            response = await send(
                self.http,
                UPSTREAM,
                "POST",
                "/v3/payments",
                json=body,
                headers={**self._auth, "Idempotence-Key": idempotence_key},
            )
            return parse_payment(_answer(response))

        return await self.resilience.call(call, retry=True)

    async def get_payment(self, payment_id: str) -> AcquirerPayment:
        """The payment as the acquirer knows it now (never cached: status changes)."""

        async def call() -> AcquirerPayment:
            response = await send(
                self.http,
                UPSTREAM,
                "GET",
                f"/v3/payments/{quote(payment_id, safe='')}",
                headers=self._auth,
            )
            return parse_payment(_answer(response))

        return await self.resilience.call(call, retry=True)

    async def ping(self) -> None:
        """One cheap authenticated round trip (``GET /v3/me``) for health probes."""

        async def call() -> None:
            response = await send(self.http, UPSTREAM, "GET", "/v3/me", headers=self._auth)
            answer = _answer(response)
            if not isinstance(answer, dict) or "account_id" not in answer:
                raise UpstreamMalformed(UPSTREAM, "shop profile without account_id")

        await self.resilience.call(call, retry=False)


def _answer(response: UpstreamResponse) -> Any:
    """The JSON of a 2xx answer; the acquirer's error shape mapped to the exception tree."""
    if response.is_success:
        return json_body(UPSTREAM, response)
    body = json_body(UPSTREAM, response)
    if not isinstance(body, dict) or body.get("type") != "error":
        raise UpstreamMalformed(UPSTREAM, f"HTTP {response.status_code} without an error body")
    code = str(body.get("code", "unknown"))
    description = str(body.get("description", ""))
    if response.status_code in (401, 403):
        raise UpstreamRejected(UPSTREAM, "UNAUTHORIZED", description or code)
    if response.status_code == 404:
        raise NotFound(UPSTREAM, description or "payment not found")
    if response.status_code == 429:
        raise UpstreamUnavailable(UPSTREAM, f"too many requests: {description}")
    parameter = body.get("parameter")
    message = f"{description} ({parameter})" if parameter else description
    raise UpstreamRejected(UPSTREAM, code, message)


def _time(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise TypeError("time must be a string")
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {raw!r}")
    return moment.astimezone(UTC)


def _text(raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"{name} must be a string")
    return raw


def parse_payment(raw: Any) -> AcquirerPayment:
    """An :class:`AcquirerPayment` from the acquirer's payment JSON, or
    :class:`UpstreamMalformed` when the JSON is not a payment."""
    try:
        return _payment(raw)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise UpstreamMalformed(UPSTREAM, f"not a payment: {exc!r}") from exc


def _payment(raw: Any) -> AcquirerPayment:
    if not isinstance(raw, dict):
        raise TypeError("payment must be an object")
    amount = raw["amount"]
    if amount["currency"] != "RUB":
        raise ValueError(f"unexpected currency {amount['currency']!r}")
    status = AcquirerPaymentStatus(raw["status"])
    confirmation = raw.get("confirmation") or {}
    confirmation_url = confirmation.get("confirmation_url")
    description = raw.get("description")
    cancellation = None
    if status is AcquirerPaymentStatus.CANCELED:
        details = raw["cancellation_details"]
        cancellation = Cancellation(
            party=CancellationParty(details["party"]),
            reason=_text(details["reason"], "reason"),
        )
    card = None
    method = raw.get("payment_method") or {}
    if "card" in method:
        card = CardSummary(
            first6=_text(method["card"]["first6"], "first6"),
            last4=_text(method["card"]["last4"], "last4"),
            card_type=_text(method["card"].get("card_type", "Unknown"), "card_type"),
        )
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TypeError("metadata must be an object")
    paid = raw["paid"]
    if not isinstance(paid, bool):
        raise TypeError("paid must be a boolean")
    return AcquirerPayment(
        id=_text(raw["id"], "id"),
        status=status,
        amount=Decimal(_text(amount["value"], "amount.value")),
        paid=paid,
        created_at=_time(raw["created_at"]),
        confirmation_url=None if confirmation_url is None else _text(confirmation_url, "url"),
        description=None if description is None else _text(description, "description"),
        metadata=MappingProxyType({str(k): str(v) for k, v in metadata.items()}),
        cancellation=cancellation,
        card=card,
        captured_at=_time(raw["captured_at"]) if raw.get("captured_at") else None,
        test=bool(raw.get("test", False)),
    )
