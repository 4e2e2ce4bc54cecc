"""A lean HTTP/1.1 client: keep-alive connections to one origin, parsed by httptools.

The REST upstreams (metering, acquirer, SMS) are called on every pass-through request, and a
general-purpose client spends most of a call's CPU on what these calls never use: cookies,
redirects, proxies, auth flows, multipart bodies, per-request URL and header objects. aiohttp
took about three times the CPU of this client for the same metering call (380 µs against
130 µs on the same machine, most of the latter being the system calls; docs/performance.md).

What it does: one origin (``http`` or ``https``) per :class:`Origin`; at most
``max_connections`` connections, idle ones reused last-in first-out and dropped after
``keepalive`` seconds idle or when the server closes them; requests written in one piece;
answers parsed by httptools (the parser uvicorn uses): ``Content-Length``, chunked, or
delimited by the connection's close; ``gzip``/``deflate`` bodies decoded; bodies over
``max_body`` refused. A request that fails on a reused connection before any byte of the
answer arrived (the server closed it while idle) is sent again on a new connection when the
method is idempotent. Every other failure is :class:`HttpError` (or ``TimeoutError``), and
the connection is discarded.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class HttpError(Exception):
    """The exchange failed: no connection, a broken or closed connection, a malformed or
    oversized answer."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer."""

    status: int
    body: bytes


class _Exchange(asyncio.Protocol):
    """One connection: sends a request, parses its answer, and says whether it may be
    reused."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self.loop = loop
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.received = False
        self.headers_done = False
        self.delimited = False
        self.encoding = b""
        self.reusable = True
        self.closed = False
        self.idle_since = 0.0

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.waiter is None or self.waiter.done():  # bytes nobody asked for: out of step
            self._discard()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:  # raised by one of ours below
            cause = exc.__context__
            self._fail(cause if isinstance(cause, HttpError) else HttpError(f"bad answer ({exc})"))
        except httptools.HttpParserUpgrade:
            self._fail(HttpError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"malformed answer ({exc})"))
        except HttpError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers_done and not self.delimited:  # the close ends the body
            self.on_message_complete()
        else:
            self._fail(HttpError("the server closed the connection"), close=False)

    # --- httptools callbacks --------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered in (b"content-length", b"transfer-encoding"):
            self.delimited = True
        elif lowered == b"content-encoding":
            self.encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            raise HttpError(f"answer over {self.max_body} bytes")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # a second answer to one request: out of step
            self.reusable = False
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (103 Early Hints): the real one follows
            self.chunks, self.size = [], 0
            self.headers_done = self.delimited = False
            self.encoding = b""
            return
        body = b"".join(self.chunks)
        if body and self.encoding and self.encoding != b"identity":
            try:
                body = _decoded(body, self.encoding)
            except (zlib.error, HttpError) as exc:
                self._fail(HttpError(f"undecodable answer ({exc})"))
                return
        if not self.closed and not self.parser.should_keep_alive():
            self.reusable = False
        waiter.set_result(Answer(status, body))

    # --- the exchange ---------------------------------------------------------------------

    def start(self, request: bytes) -> asyncio.Future[Answer]:
        """Send ``request``; the future of its answer."""
        assert self.transport is not None
        self.waiter = waiter = self.loop.create_future()
        self.chunks, self.size = [], 0
        self.received = self.headers_done = self.delimited = False
        self.encoding = b""
        self.transport.write(request)
        return waiter

    def finish(self) -> None:
        """The answer was taken (or abandoned): ready for the next request, if reusable."""
        self.waiter = None
        self.chunks = []
        self.idle_since = time.monotonic()

    def _fail(self, error: HttpError, *, close: bool = True) -> None:
        self.reusable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if close:
            self._discard()

    def _discard(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()


def _decoded(body: bytes, encoding: bytes) -> bytes:
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # raw deflate, as some servers send it
            return zlib.decompress(body, -zlib.MAX_WBITS)
    raise HttpError(f"unsupported content-encoding {encoding.decode(errors='replace')}")


class Origin:
    """Keep-alive connections to one ``scheme://host:port``, and requests over them."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 100,
        connect_timeout: float = 5.0,
        keepalive: float = 30.0,
        max_body: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if default_port else f"{host}:{self.port}"
        self.ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.max_body = max_body
        self._idle: deque[_Exchange] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def exchange(self, method: str, request: bytes) -> Answer:
        """Send one whole request (``head`` and body, as bytes) and read its answer. The
        caller bounds the time (``asyncio.timeout``): a cancelled exchange drops its
        connection."""
        for attempt in (1, 2):
            connection, reused = await self._acquire()
            try:
                answer = await connection.start(request)
            except HttpError:
                self._release(connection, keep=False)
                if attempt == 1 and reused and not connection.received and method in IDEMPOTENT:
                    continue  # closed by the server while idle: once more, on a new one
                raise
            except BaseException:  # cancelled or timed out mid-answer: out of step now
                self._release(connection, keep=False)
                raise
            self._release(connection, keep=True)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self) -> tuple[_Exchange, bool]:
        if self._closed:
            raise HttpError(f"the client of {self.authority} is closed")
        while True:
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                stale = now - connection.idle_since > self.keepalive
                if connection.closed or not connection.reusable or stale:
                    connection._discard()
                    self._open -= 1
                    continue
                return connection, True
            if self._open < self.max_connections:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # a connection went back, or one closed
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._open += 1
        try:
            return await self._connect(), False
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    async def _connect(self) -> _Exchange:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Exchange(loop, self.max_body),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl is not None else None,
                )
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.authority} ({exc})") from exc
        return connection

    def _release(self, connection: _Exchange, *, keep: bool) -> None:
        """Back to the idle connections if ``keep`` and it can be reused, else closed."""
        connection.finish()
        if keep and connection.reusable and not connection.closed and not self._closed:
            self._idle.append(connection)
        else:
            connection._discard()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection; the origin cannot be used again."""
        self._closed = True
        while self._idle:
            self._idle.pop()._discard()
            self._open -= 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(HttpError(f"the client of {self.authority} is closed"))
        await asyncio.sleep(0)  # let the transports finish closing


def request_bytes(
    method: str, target: str, authority: str, headers: list[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request as it goes on the wire. Refuses a line break in any part of it (no
    header or request splitting through a value that came from a customer)."""
    if method == "HEAD":
        raise ValueError("HEAD is not supported (the parser would wait for a body)")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError(f"a line break in the request: {line!r}")
    try:
        head = "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a request line or header outside latin-1 ({exc})") from exc
    return head + b"\r\n\r\n" + (body or b"")
