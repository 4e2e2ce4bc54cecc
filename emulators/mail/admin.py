"""The mail sink's own admin API (beside the shared ``/_admin`` of every emulator).

``GET/PUT/DELETE /_admin/smtp``: SMTP credentials. Unset (the default), any client may
send, with or without ``AUTH``; set, ``AUTH`` with exactly these is required before
``MAIL`` (``530``), and other credentials are refused (``535``).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.mail.smtp import SmtpSettings


def admin_routes(settings: SmtpSettings) -> list[BaseRoute]:
    """The mail-specific admin routes."""

    async def smtp(request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                settings.update(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            settings.reset()
        return JSONResponse(settings.public())

    return [Route("/_admin/smtp", smtp, methods=["GET", "PUT", "DELETE"])]
