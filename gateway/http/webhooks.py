"""``POST /webhooks/acquirer``: the acquirer's signed payment notifications (PAY-5).

Answers: 200 once the notification is handled — applied, already known (a duplicate or a
late one), or about a payment the gateway does not know (logged; the acquirer must not
retry it for ever); 401 when the signature is missing, malformed, wrong or outside the
timestamp tolerance (a forgery or a replay: never applied); 400 for a correctly signed body
that is not a notification; 413 for a body over 64 KiB. Anything else (the store down) is a
500, which the acquirer retries.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.acquirer import SIGNATURE_HEADER, WebhookRejected, WebhookRejectReason
from gateway.services import Services

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
"""A notification is a few KiB; anything much bigger is not one."""
DELIVERY_HEADER = "x-acquirer-delivery"


async def acquirer_webhook(request: Request) -> Response:
    """Verify, apply once, answer."""
    services: Services = request.app.state.services
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too_large"}, status_code=413)
    try:
        outcome = await services.payments.accept_webhook(
            body, request.headers.get(SIGNATURE_HEADER), request.headers.get(DELIVERY_HEADER, "")
        )
    except WebhookRejected as exc:
        status = 400 if exc.reason is WebhookRejectReason.MALFORMED_BODY else 401
        return JSONResponse({"error": exc.reason.value}, status_code=status)
    return JSONResponse({"status": outcome})


routes = [Route("/webhooks/acquirer", acquirer_webhook, methods=["POST"])]
