"""The one way adapters talk HTTP: a long-lived client per upstream and error mapping.

Transport failures become the adapter exception tree here, once, so each adapter only
interprets the answers its legacy system gives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry.propagate import inject

from adapters.errors import UpstreamMalformed, UpstreamTimeout, UpstreamUnavailable


def make_client(
    base_url: str,
    *,
    timeout: float,
    connect_timeout: float,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 100,
) -> httpx.AsyncClient:
    """Build the one ``httpx.AsyncClient`` an upstream gets for the life of the app.

    Keep-alive connections are pooled, so repeated calls skip the TCP handshake.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
        event_hooks={"request": [_propagate_trace]},
    )


async def _propagate_trace(request: httpx.Request) -> None:
    """Carry the current trace to the upstream (W3C ``traceparent``), so a legacy system
    that logs it can be correlated with the gateway's trace."""
    inject(request.headers)


async def send(
    client: httpx.AsyncClient,
    upstream: str,
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; map transport failures and 5xx answers to the adapter tree.

    4xx answers are returned as they are: what they mean is the adapter's business.
    """
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(upstream, f"no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(upstream, f"transport failure ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise UpstreamUnavailable(upstream, f"HTTP {response.status_code}")
    return response


def json_body(upstream: str, response: httpx.Response) -> Any:
    """The decoded JSON body, or :class:`UpstreamMalformed` when it is not JSON."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamMalformed(upstream, "answer is not valid JSON") from exc
