"""Security headers on every HTTP answer of the gateway (GW-1, web security).

* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere;
* on HTML and JSON answers a ``Content-Security-Policy`` (unless the answer set its own) with
  ``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for browsers that predate it;
* ``Strict-Transport-Security`` when the gateway's public URL is https.

Pages: the default policy of an HTML page allows its own origin, inline styles and ``data:``
images, and no inline script; a page that needs more sets its own policy, as GraphiQL does
(:func:`graphiql_policy`: its scripts and styles come from unpkg.com, pinned with SRI hashes
by Strawberry, and its one inline script is allowed by its SHA-256, not by
``'unsafe-inline'``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from functools import cache

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import Settings

GRAPHIQL_CDN = "https://unpkg.com"
"""Where Strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from."""

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def _inline_script_hashes(html: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )


def graphiql_policy(html: str, headers: Mapping[str, str]) -> str:
    """The Content-Security-Policy of the GraphiQL page ``html``: scripts and styles from
    the CDN, its inline scripts by hash, requests to this origin only (HTTP and WebSocket)."""
    host = headers.get("host", "")
    sockets = f" wss://{host} ws://{host}" if host else ""
    return (
        f"default-src 'none'; script-src {GRAPHIQL_CDN} {_inline_script_hashes(html)}; "
        f"style-src {GRAPHIQL_CDN} 'unsafe-inline'; font-src {GRAPHIQL_CDN} data:; "
        f"img-src 'self' data: {GRAPHIQL_CDN}; connect-src 'self'{sockets}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP answer (never overriding one the answer
    set itself)."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains" if hsts_seconds > 0 else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                if self.hsts:
                    headers.setdefault("strict-transport-security", self.hsts)
                media = headers.get("content-type", "").split(";")[0].strip().lower()
                policy = _policy_for(media)
                if policy:
                    headers.setdefault("content-security-policy", policy)
                    headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _policy_for(media: str) -> str:
    if media == "text/html":
        return HTML_POLICY
    if media == "application/json" or media.endswith("+json"):
        return JSON_POLICY
    return ""


CORS_HEADERS = (
    "authorization",
    "content-type",
    "x-api-key",
    "x-lkk-csrf",
    "x-request-id",
    "x-client-channel",
)
"""Request headers a page of an allowed origin may send."""


def web_security(settings: Settings) -> list[Middleware]:
    """The security headers, and CORS for the origins of ``LKK_CORS_ORIGINS`` (none: no
    CORS at all, so browsers keep every other site's pages out)."""
    hsts = settings.hsts_seconds if settings.effective_public_url.startswith("https://") else 0
    middleware = [Middleware(SecurityHeadersMiddleware, hsts_seconds=hsts)]
    origins = settings.cors_origin_list
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_credentials=True,  # the web app's session cookie
                allow_methods=["GET", "POST"],
                allow_headers=list(CORS_HEADERS),
                expose_headers=["x-request-id", "retry-after"],
                max_age=600,
            )
        )
    return middleware
