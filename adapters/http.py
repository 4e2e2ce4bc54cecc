"""The one way the REST adapters talk HTTP: a long-lived client per upstream and error mapping.

Transport failures become the adapter exception tree here, once, so each adapter only
interprets the answers its legacy system gives.

The client is the gateway's own lean HTTP/1.1 client (``adapters/h1.py``), not a general
purpose one: the pass-through of one upstream call is the gateway's hottest path, and one
metering call cost about three times the CPU through aiohttp and nine times through httpx
(docs/performance.md). Billing's SOAP client stays on httpx, which zeep requires.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from opentelemetry.propagate import inject

from adapters.errors import UpstreamMalformed, UpstreamTimeout, UpstreamUnavailable
from adapters.h1 import HttpError, Origin, request_bytes

Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]]
"""Query parameters: a mapping, or pairs where a name repeats (``account=…&account=…``)."""


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """An upstream's whole answer, read before its connection went back to the pool."""

    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The decoded JSON body (``json.JSONDecodeError`` when it is not JSON)."""
        return orjson.loads(self.content)


class UpstreamHttp:
    """One upstream's HTTP client: pooled keep-alive connections, a time limit per call,
    default headers, and the current trace carried along (W3C ``traceparent``).

    Made once for the life of the app and closed on shutdown (``async with`` or
    :meth:`aclose`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        connect_timeout: float,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        trace: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.trace = trace
        """Whether to carry the current trace (off when the gateway traces nothing: there is
        no trace to carry, and looking costs a few percent of a pass-through)."""
        self.timeout = timeout
        """The whole call's time limit, connecting included."""
        self.observers: list[Callable[[str, str], None]] = []
        """Called with the method and URL of every request before it is sent (tests count
        the calls an adapter makes)."""
        self._origin = Origin(
            self.base_url, max_connections=max_connections, connect_timeout=connect_timeout
        )
        self._base_path = urlsplit(self.base_url).path
        self._default_headers = [
            ("Accept", "*/*"),
            ("User-Agent", "lkk-gateway"),
            *(headers or {}).items(),
        ]

    async def __aenter__(self) -> UpstreamHttp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections; the client cannot be used again."""
        await self._origin.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        """Send one request to ``base_url + path`` and read the whole answer.

        Raises :class:`~adapters.h1.HttpError` and ``TimeoutError``; :func:`send` maps them.
        """
        target = self._base_path + path
        if params:
            target += "?" + urlencode(params, quote_via=quote)
        for observe in self.observers:
            observe(method, self.base_url + path)
        sent = list(self._default_headers)
        if headers:
            sent.extend(headers.items())
        if self.trace:
            carrier: dict[str, str] = {}
            inject(carrier)
            sent.extend(carrier.items())
        body = None
        if json is not None:
            body = orjson.dumps(json)
            sent.append(("Content-Type", "application/json"))
        wire = request_bytes(method, target, self._origin.authority, sent, body)
        async with asyncio.timeout(self.timeout):
            answer = await self._origin.exchange(method, wire)
        return UpstreamResponse(answer.status, answer.body)


async def send(
    client: UpstreamHttp,
    upstream: str,
    method: str,
    url: str,
    **kwargs: Any,
) -> UpstreamResponse:
    """Send one request; map transport failures and 5xx answers to the adapter tree.

    4xx answers are returned as they are: what they mean is the adapter's business.
    """
    try:
        response = await client.request(method, url, **kwargs)
    except TimeoutError as exc:
        raise UpstreamTimeout(upstream, f"no answer in time ({type(exc).__name__})") from exc
    except HttpError as exc:
        raise UpstreamUnavailable(upstream, f"transport failure ({exc})") from exc
    if response.status_code >= 500:
        raise UpstreamUnavailable(upstream, f"HTTP {response.status_code}")
    return response


def json_body(upstream: str, response: UpstreamResponse) -> Any:
    """The decoded JSON body, or :class:`UpstreamMalformed` when it is not JSON."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamMalformed(upstream, "answer is not valid JSON") from exc
