"""The SMS gateway's own admin API (beside the shared ``/_admin`` of every emulator).

``GET/PUT/DELETE /_admin/sms``: the balance and the price of one part, so that tests and
demos can drain or top up the account (``INSUFFICIENT_BALANCE``).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.sms.store import SmsStore


def _amount(raw: object, name: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f"{name} must be a number or a decimal string")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"{name} must be a number or a decimal string") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return value.quantize(Decimal("0.01"))


def admin_routes(store: SmsStore) -> list[BaseRoute]:
    """The SMS-specific admin routes."""

    def state() -> Response:
        account = store.account()
        return JSONResponse({"balance": str(account.balance), "price": str(account.price)})

    async def account(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                unknown = set(body) - {"balance", "price"}
                if unknown:
                    raise ValueError(f"unknown knobs {sorted(unknown)}; known: balance, price")
                store.set_account(
                    balance=_amount(body["balance"], "balance") if "balance" in body else None,
                    price=_amount(body["price"], "price") if "price" in body else None,
                )
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            store.reseed_account()
        return state()

    return [Route("/_admin/sms", account, methods=["GET", "PUT", "DELETE"])]
