"""How credentials arrive over HTTP: bearer tokens (mobile), the session cookie (web, with
CSRF protection), API keys (partners, operators), and who the client is."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from gateway.identity.sessions import Client

SESSION_COOKIE = "lkk_session"
API_KEY_HEADER = "x-api-key"
CSRF_HEADER = "x-lkk-csrf"
_CHANNELS = {"web", "mobile", "partner"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Credentials:
    """What a request presents."""

    session_token: str = ""
    api_key: str = ""


def credentials(connection: HTTPConnection) -> Credentials:
    """The session token (``Authorization: Bearer`` first, else the cookie) and API key.

    A cookie is honoured on a state-changing request only if the request could not have
    been sent by a form of another site: a JSON body (a non-simple content type, which a
    cross-site form cannot send without CORS approval) or our custom header.
    """
    headers = connection.headers
    api_key = headers.get(API_KEY_HEADER, "")
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credentials(session_token=value.strip(), api_key=api_key)
    if scheme.lower() == "apikey" and value.strip():
        api_key = value.strip()
    cookie = connection.cookies.get(SESSION_COOKIE, "")
    if cookie and not _csrf_safe(connection):
        cookie = ""
    return Credentials(session_token=cookie, api_key=api_key)


def _csrf_safe(connection: HTTPConnection) -> bool:
    if connection.scope["type"] == "websocket":
        return True  # origin-checked at connection init (GW-1 subscriptions)
    method = connection.scope.get("method", "GET")
    if method in _SAFE_METHODS:
        return True
    content_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or CSRF_HEADER in connection.headers


def client_of(connection: HTTPConnection) -> Client:
    """The client's address, user agent and channel (``X-Client-Channel: web|mobile``)."""
    channel = connection.headers.get("x-client-channel", "").lower()
    return Client(
        address=connection.client.host if connection.client else "",
        user_agent=connection.headers.get("user-agent", ""),
        channel=channel if channel in _CHANNELS else "unknown",
    )
