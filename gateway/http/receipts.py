"""``GET /receipts/{account}/{period}?u=…&exp=…&sig=…``: a statement's receipt as a PNG
(CHG-1), behind the signed, short-lived link of ``Statement.receiptUrl``
(``gateway/billing/receipts.py`` says what is checked and why).

Answers: 200 ``image/png`` with ``ETag``, ``Cache-Control: private`` and
``Content-Disposition`` (``inline``; ``?download=1`` for ``attachment``); 304 for a matching
``If-None-Match``; 403 for any link that is malformed, tampered with, expired or not the
requester's (one answer for all, so it reveals nothing); 404 when the period has no receipt;
503 with ``Retry-After`` when billing is down and the receipt was never cached.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.errors import UpstreamUnavailable
from gateway.billing.receipts import ReceiptForbidden, ReceiptNotFound
from gateway.security.web import credentials
from gateway.services import Services

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_PRIVATE = {
    "x-content-type-options": "nosniff",
    # the link is a capability: never hand it on in a Referer
    "referrer-policy": "no-referrer",
}


async def receipt(request: Request) -> Response:
    """The receipt a valid link grants."""
    services: Services = request.app.state.services
    presented = credentials(request)
    viewer = (
        await services.identity.authenticate(presented.session_token)
        if presented.session_token
        else None
    )
    try:
        grant, image = await services.billing.receipts.open(
            request.path_params["account"],
            request.path_params["period"],
            request.query_params,
            viewer.user_id if viewer is not None else None,
        )
    except ReceiptForbidden as exc:
        logger.info("receipt link refused: %s", exc)
        return _text(403, "Ссылка на квитанцию недействительна или устарела. Откройте её заново.")
    except ReceiptNotFound as exc:
        logger.info("receipt not found: %s", exc)
        return _text(404, "Квитанция за этот период не найдена.")
    except UpstreamUnavailable:
        return _text(
            503,
            "Квитанция временно недоступна. Попробуйте позже.",
            {"retry-after": str(RETRY_AFTER_SECONDS)},
        )
    remaining = max(0, int(grant.expires_at.timestamp() - services.clock.now().timestamp()))
    disposition = "attachment" if request.query_params.get("download") == "1" else "inline"
    headers = {
        **_PRIVATE,
        "etag": image.etag,
        "cache-control": f"private, max-age={remaining}",
        "content-disposition": f'{disposition}; filename="{image.filename}"',
    }
    if _matches(request.headers.get("if-none-match", ""), image.etag):
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type="image/png", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, RFC 9110) or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _text(status: int, message: str, extra: dict[str, str] | None = None) -> Response:
    headers = {**_PRIVATE, "cache-control": "no-store", **(extra or {})}
    return PlainTextResponse(message, status_code=status, headers=headers)


routes = [Route("/receipts/{account}/{period}", receipt, methods=["GET", "HEAD"])]
