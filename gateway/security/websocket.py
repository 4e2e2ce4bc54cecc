"""Who is on the other end of a GraphQL WebSocket (subscriptions, GW-1, PAY-5).

Browsers cannot set headers on a WebSocket, so a web client authenticates it with its
session cookie, and a mobile client puts its token in the ``connection_init`` payload
(``{"authorization": "Bearer …"}``). A cookie travels with every request the browser makes,
even one a foreign page opens (cross-site WebSocket hijacking), so Strawberry refuses the
handshake (HTTP 403) from any origin but the gateway's own and ``LKK_CORS_ORIGINS``; a
token in the payload proves itself.
"""

from __future__ import annotations

from collections.abc import Mapping


def token_of(params: Mapping[str, object] | None) -> str | None:
    """The session token a client put in its ``connection_init`` payload, if any
    (``authorization: "Bearer <token>"``, or ``token: "<token>"``)."""
    if not params:
        return None
    raw = params.get("authorization") or params.get("Authorization")
    if isinstance(raw, str):
        scheme, _, value = raw.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    token = params.get("token")
    return token.strip() if isinstance(token, str) and token.strip() else None
