"""The one way the REST adapters talk HTTP: a long-lived client per upstream and error mapping.

Transport failures become the adapter exception tree here, once, so each adapter only
interprets the answers its legacy system gives.

The client is aiohttp's, not httpx's: one call through httpx (even over aiohttp's
connections, ``httpx-aiohttp``) costs about three times the CPU of the same call through
aiohttp, and the pass-through of one upstream call is the gateway's hottest path
(docs/performance.md). Billing's SOAP client stays on httpx, which zeep requires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from opentelemetry.propagate import inject

from adapters.errors import UpstreamMalformed, UpstreamTimeout, UpstreamUnavailable

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
    :meth:`aclose`); the aiohttp session inside is opened by the first call, in the running
    event loop.
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
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self.headers = dict(headers or {})
        self.max_connections = max_connections
        self.observers: list[Callable[[str, str], None]] = []
        """Called with the method and URL of every request before it is sent (tests count
        the calls an adapter makes)."""
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> UpstreamHttp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop."""
        if self._closed:
            raise RuntimeError(f"the client of {self.base_url} is closed")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=0, keepalive_timeout=30.0
            ),
            timeout=self.timeout,
            headers=self.headers,
            # no upstream keeps a session in cookies: nothing is remembered between calls
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    async def aclose(self) -> None:
        """Close the pooled connections; the client cannot be used again."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

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

        Raises aiohttp's exceptions and ``TimeoutError``; :func:`send` maps them.
        """
        session = self._session or self._open()
        url = self.base_url + path
        sent = dict(headers) if headers else {}
        if self.trace:
            inject(sent)
        for observe in self.observers:
            observe(method, url)
        data = None
        if json is not None:
            data = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        async with session.request(
            method,
            url,
            params=params,
            data=data,
            headers=sent,
            allow_redirects=False,
        ) as answer:
            content = await answer.read()
            return UpstreamResponse(answer.status, content)


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
    except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
        raise UpstreamTimeout(upstream, f"no answer in time ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailable(upstream, f"transport failure ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise UpstreamUnavailable(upstream, f"HTTP {response.status_code}")
    return response


def json_body(upstream: str, response: UpstreamResponse) -> Any:
    """The decoded JSON body, or :class:`UpstreamMalformed` when it is not JSON."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamMalformed(upstream, "answer is not valid JSON") from exc
