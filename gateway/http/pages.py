"""Public pages: the privacy policy (SET-5), linked from registration."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway.services import Services


async def privacy(request: Request) -> Response:
    """The privacy policy in force, as a page."""
    services: Services = request.app.state.services
    policy = services.policy
    paragraphs = "".join(
        f"<p>{escape(block).replace(chr(10), '<br>')}</p>"
        for block in policy.text.strip().split("\n\n")
    )
    page = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Политика конфиденциальности</title>"
        "<style>body{font-family:Arial,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}</style></head><body>"
        f"{paragraphs}<p><small>Редакция {escape(policy.version)}</small></p></body></html>"
    )
    return HTMLResponse(page, headers={"cache-control": "public, max-age=3600"})


routes = [Route("/privacy", privacy, methods=["GET", "HEAD"])]
