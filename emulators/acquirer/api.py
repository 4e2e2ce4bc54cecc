"""The acquirer's REST API, ``/v3``: create a payment, read it, and the shop's profile.

Shop credentials come as HTTP Basic (``shop_id:secret_key``). Every error, whatever the
status, has the acquirer's one shape::

    {"type": "error", "id": "<uuid>", "code": "invalid_request",
     "description": "...", "parameter": "amount.value"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.acquirer.processing import Processor, UnknownPayment
from emulators.acquirer.store import NewPayment
from emulators.base import CallLog
from emulators.faults import CannedResponse

MAX_KEY_LENGTH = 64
MAX_DESCRIPTION = 128
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 32
MAX_METADATA_VALUE = 512
_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def error_body(code: str, description: str, parameter: str | None = None) -> dict[str, Any]:
    """An error in the acquirer's shape."""
    body: dict[str, Any] = {
        "type": "error",
        "id": str(uuid.uuid4()),
        "code": code,
        "description": description,
    }
    if parameter is not None:
        body["parameter"] = parameter
    return body


def error(status: int, code: str, description: str, parameter: str | None = None) -> Response:
    """An error answer in the acquirer's shape."""
    return JSONResponse(error_body(code, description, parameter), status_code=status)


def internal_error() -> CannedResponse:
    """What the acquirer answers when it breaks inside (the ``error_rate`` fault)."""
    body = error_body(
        "internal_server_error",
        "Internal server error. Repeat the request with the same Idempotence-Key later",
    )
    return CannedResponse(500, json.dumps(body).encode(), "application/json")


class InvalidRequest(ValueError):
    """A request the API refuses with 400 ``invalid_request``."""

    def __init__(self, parameter: str | None, description: str) -> None:
        super().__init__(description)
        self.parameter = parameter
        self.description = description


def parse_new_payment(body: Any) -> NewPayment:
    """Validate a ``POST /v3/payments`` body as the acquirer does."""
    if not isinstance(body, dict):
        raise InvalidRequest(None, "Request body must be a JSON object")
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise InvalidRequest("amount", "Required parameter amount is missing")
    raw_value = amount.get("value")
    if isinstance(raw_value, bool) or not isinstance(raw_value, str | int | float):
        raise InvalidRequest("amount.value", "Required parameter amount.value is missing")
    text = raw_value if isinstance(raw_value, str) else str(raw_value)
    if not _AMOUNT.match(text) or Decimal(text) <= 0:
        raise InvalidRequest(
            "amount.value", "Invalid amount value: a positive number with up to 2 decimals"
        )
    if amount.get("currency") != "RUB":
        raise InvalidRequest("amount.currency", "Currency is not supported by the shop")
    if body.get("capture") is not True:
        raise InvalidRequest(
            "capture", "Two-stage payments are not enabled for this shop: send capture=true"
        )
    confirmation = body.get("confirmation")
    if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
        raise InvalidRequest("confirmation.type", "Only confirmation type redirect is allowed")
    return_url = confirmation.get("return_url")
    if (
        not isinstance(return_url, str)
        or not re.match(r"^https?://\S+$", return_url)
        or len(return_url) > 2048
    ):
        raise InvalidRequest("confirmation.return_url", "Invalid return_url")
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise InvalidRequest("description", f"Description is longer than {MAX_DESCRIPTION}")
    return NewPayment(
        amount=Decimal(text),
        currency="RUB",
        description=description,
        metadata=_metadata(body.get("metadata")),
        return_url=return_url,
    )


def _metadata(raw: Any) -> dict[str, str]:
    """Metadata keys and values; scalars come back as strings, as the acquirer keeps them."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_METADATA_KEYS:
        raise InvalidRequest("metadata", f"metadata: an object of up to {MAX_METADATA_KEYS} keys")
    kept: dict[str, str] = {}
    for key, value in raw.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(f"metadata.{key}", "metadata key is too long")
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise InvalidRequest(f"metadata.{key}", "metadata values must be scalars")
        text = str(value)
        if len(text) > MAX_METADATA_VALUE:
            raise InvalidRequest(f"metadata.{key}", "metadata value is too long")
        kept[key] = text
    return kept


def fingerprint(body: Any) -> str:
    """What makes two requests "the same" for an idempotence key: the canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def api_routes(
    processor: Processor, calls: CallLog, *, shop_id: str, secret_key: str
) -> list[BaseRoute]:
    """The ``/v3`` routes."""

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), shop_id.encode()) & hmac.compare_digest(
            password.encode(), secret_key.encode()
        )

    def unauthorised() -> Response:
        return error(
            401,
            "invalid_credentials",
            "Authentication by given credentials failed",
            "Authorization",
        )

    async def create_payment(request: Request) -> Response:
        calls.record("CreatePayment")
        if not authorised(request):
            return unauthorised()
        key = request.headers.get("idempotence-key", "")
        if not key:
            return error(
                400,
                "invalid_request",
                "Idempotence-Key header is required",
                "Idempotence-Key",
            )
        if len(key) > MAX_KEY_LENGTH:
            return error(
                400,
                "invalid_request",
                f"Idempotence-Key is longer than {MAX_KEY_LENGTH}",
                "Idempotence-Key",
            )
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "invalid_request", "Request body is not valid JSON")
        try:
            new_payment = parse_new_payment(body)
        except InvalidRequest as exc:
            return error(400, "invalid_request", exc.description, exc.parameter)
        request_print = fingerprint(body)
        remembered, _created = processor.create(new_payment, key=key, fingerprint=request_print)
        if remembered.fingerprint != request_print:
            return error(
                400,
                "invalid_request",
                "Idempotence-Key was already used with another request body",
                "Idempotence-Key",
            )
        return JSONResponse(remembered.response)

    async def get_payment(request: Request) -> Response:
        calls.record("GetPayment")
        if not authorised(request):
            return unauthorised()
        try:
            payment = processor.current(request.path_params["payment_id"])
        except UnknownPayment:
            return error(404, "not_found", "Payment not found or forbidden", "payment_id")
        return JSONResponse(processor.render(payment))

    async def me(request: Request) -> Response:
        calls.record("GetMe")
        if not authorised(request):
            return unauthorised()
        return JSONResponse(
            {
                "account_id": shop_id,
                "test": True,
                "status": "enabled",
                "fiscalization_enabled": False,
                "payment_methods": ["bank_card"],
            }
        )

    return [
        Route("/v3/payments", create_payment, methods=["POST"]),
        Route("/v3/payments/{payment_id}", get_payment, methods=["GET"]),
        Route("/v3/me", me, methods=["GET"]),
    ]
