"""The acquirer's own admin API (beside the shared ``/_admin`` of every emulator).

- ``GET/PUT/DELETE /_admin/webhooks``: the notification target and sender knobs, and the
  log of every delivery with its attempts.
- ``GET/PUT /_admin/processing``: the processor's timings.
- ``GET /_admin/payments``: every payment, with the internal stage.
- ``POST /_admin/payments/{id}/complete``: pay without a browser, through the same steps as
  the pages (card form, then 3-D Secure when the card asks for it).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.acquirer.cards import CardError
from emulators.acquirer.processing import Processor, UnknownPayment, WrongStage
from emulators.acquirer.store import PaymentRow, Stage
from emulators.acquirer.webhooks import WebhookSender


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def admin_routes(processor: Processor, webhooks: WebhookSender) -> list[BaseRoute]:
    """The acquirer-specific admin routes."""

    def webhooks_state() -> Response:
        return JSONResponse(
            {
                "settings": webhooks.settings.public(),
                "in_flight": webhooks.tasks.count,
                "deliveries": [d.public() for d in webhooks.deliveries()],
            }
        )

    async def webhook_admin(request: Request) -> Response:
        if request.method == "PUT":
            try:
                webhooks.settings.update(await _json_object(request))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            webhooks.reset()
        return webhooks_state()

    async def processing_admin(request: Request) -> Response:
        if request.method == "PUT":
            try:
                processor.settings.update(await _json_object(request))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(vars(processor.settings))

    def described(payment: PaymentRow) -> dict[str, Any]:
        return {
            "payment": processor.render(payment),
            "stage": payment.stage,
            "return_url": payment.return_url,
        }

    async def payments(request: Request) -> Response:
        return JSONResponse([described(p) for p in processor.store.all()])

    async def complete(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        try:
            body = await _json_object(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        answers_3ds = "code" in body or body.get("cancel") is True
        if not isinstance(body.get("card"), str) and not answers_3ds:
            return JSONResponse({"error": "give 'card' and/or 'code' (or 'cancel')"}, 400)
        try:
            payment = processor.current(payment_id)
            if isinstance(body.get("card"), str):
                default_expiry = processor.clock.today() + timedelta(days=730)
                payment = processor.submit_card(
                    payment_id,
                    body["card"],
                    str(body.get("expiry", f"{default_expiry:%m/%y}")),
                    str(body.get("cvc", "123")),
                )
                if payment.stage != Stage.THREE_DS:
                    answers_3ds = False
            if answers_3ds:
                code = None if body.get("cancel") is True else str(body.get("code", ""))
                payment = processor.submit_code(payment_id, code)
        except UnknownPayment:
            return JSONResponse({"error": "payment not found"}, status_code=404)
        except CardError as exc:
            return JSONResponse({"error": exc.message, "field": exc.field}, status_code=422)
        except WrongStage as exc:
            return JSONResponse(
                {"error": "payment is not waiting for this step", **described(exc.payment)},
                status_code=409,
            )
        next_step = "3ds" if payment.stage == Stage.THREE_DS else "return"
        return JSONResponse({"next": next_step, **described(payment)})

    return [
        Route("/_admin/webhooks", webhook_admin, methods=["GET", "PUT", "DELETE"]),
        Route("/_admin/processing", processing_admin, methods=["GET", "PUT"]),
        Route("/_admin/payments", payments, methods=["GET"]),
        Route("/_admin/payments/{payment_id}/complete", complete, methods=["POST"]),
    ]
