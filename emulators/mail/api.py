"""The mail sink's JSON API: what was received, for tests and demos to read codes from.

- ``GET /mail/messages?to=&limit=``: letters, newest first (``to`` matches an envelope
  recipient, case-insensitively);
- ``GET /mail/messages/{id}``: one letter;
- ``GET /mail/messages/{id}/raw``: its source as received;
- ``GET /mail/messages/{id}/html``: its HTML body, served sandboxed (no scripts, no
  requests out), for the inbox page to show.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import UTILITY_TZ, CallLog
from emulators.faults import CannedResponse
from emulators.mail.store import Letter, MailStore

LETTER_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
"""How a letter's own HTML is served: no scripts, no forms, nothing fetched."""


def internal_error() -> CannedResponse:
    """What the inbox pages answer when they break inside (the ``error_rate`` fault)."""
    return CannedResponse(
        500,
        b"<html><head><title>500 Internal Server Error</title></head><body>"
        b"<h1>Internal Server Error</h1></body></html>",
        "text/html",
    )


def render(letter: Letter) -> dict[str, Any]:
    """A letter as the JSON API shows it."""
    return {
        "id": letter.id,
        "message_id": letter.message_id,
        "from": letter.header_from,
        "to": letter.header_to,
        "envelope_from": letter.envelope_from,
        "recipients": list(letter.recipients),
        "subject": letter.subject,
        "text": letter.text,
        "html": letter.html,
        "date": None if letter.date is None else letter.date.isoformat(),
        "received_at": letter.received_at.astimezone(UTILITY_TZ).isoformat(timespec="seconds"),
    }


def not_found() -> Response:
    """An unknown letter."""
    return JSONResponse({"error": "letter not found"}, status_code=404)


def api_routes(store: MailStore, calls: CallLog) -> list[BaseRoute]:
    """The ``/mail/messages`` routes."""

    async def messages(request: Request) -> Response:
        calls.record("ListMessages")
        to = request.query_params.get("to", "").strip()
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
        except ValueError:
            return JSONResponse({"error": "limit must be a number"}, status_code=400)
        return JSONResponse([render(letter) for letter in store.letters(to or None, limit)])

    async def message(request: Request) -> Response:
        calls.record("GetMessage")
        letter = store.get(request.path_params["letter_id"])
        return not_found() if letter is None else JSONResponse(render(letter))

    async def raw(request: Request) -> Response:
        calls.record("GetRawMessage")
        letter = store.get(request.path_params["letter_id"])
        if letter is None:
            return not_found()
        return Response(letter.raw, media_type="text/plain; charset=utf-8")

    async def html(request: Request) -> Response:
        calls.record("GetMessageHtml")
        letter = store.get(request.path_params["letter_id"])
        if letter is None or letter.html is None:
            return not_found()
        return Response(
            letter.html,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": LETTER_CSP, "X-Content-Type-Options": "nosniff"},
        )

    return [
        Route("/mail/messages", messages, methods=["GET"]),
        Route("/mail/messages/{letter_id}", message, methods=["GET"]),
        Route("/mail/messages/{letter_id}/raw", raw, methods=["GET"]),
        Route("/mail/messages/{letter_id}/html", html, methods=["GET"]),
    ]
