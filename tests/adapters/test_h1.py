"""The lean HTTP/1.1 client (adapters/h1.py) over real sockets, against a server that answers
each request with a scripted byte string: every way an answer can be framed, connections kept
and reused, the server closing them, and each failure as the adapters see it (through
``adapters.http.send``)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from adapters.errors import UpstreamTimeout, UpstreamUnavailable
from adapters.h1 import HttpError, Origin, request_bytes
from adapters.http import UpstreamHttp, send

Script = Callable[[bytes], bytes | None]
"""What the server writes for a request (its head), ``None`` to close without answering."""


def ok(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra])
    return head.encode() + b"\r\n\r\n" + body


@dataclass
class Server:
    """Counts connections and requests; answers by ``script``; may close after answering."""

    script: Script = lambda head: ok(b'{"ok": true}')
    close_after: bool = False
    delay: float = 0.0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = self.script(head)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def drop_idle(self) -> None:
        """Close every connection from the server's side (an idle keep-alive timeout)."""
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    yield state, f"http://127.0.0.1:{port}/api/v1"
    listening.close()
    for writer in state.writers:
        writer.close()


async def call(url: str, path: str = "/meters", **kwargs: object) -> tuple[int, bytes]:
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        answer = await send(http, "metering", "GET", path, **kwargs)
        return answer.status_code, answer.content


async def test_the_request_goes_out_as_written(server: tuple[Server, str]) -> None:
    state, url = server
    async with UpstreamHttp(
        url, timeout=1, connect_timeout=1, headers={"X-Api": "k"}, trace=False
    ) as http:
        await http.request("GET", "/meters/1 0", params=[("account", "7"), ("account", "8 9")])
        await http.request("POST", "/readings", json={"value": "1,5"})
    get, post = state.requests
    assert get.startswith(b"GET /api/v1/meters/1 0?account=7&account=8%209 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in get
    assert b"\r\nX-Api: k\r\n" in get
    assert b"Content-Length" not in get
    assert post.startswith(b"POST /api/v1/readings HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in post
    assert b"\r\nContent-Length: 15\r\n" in post
    assert post.endswith(b'\r\n\r\n{"value":"1,5"}')


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (ok(b"plain"), (200, b"plain")),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            (200, b"abcde"),
        ),
        (ok(gzip.compress(b"zipped"), "Content-Encoding: gzip"), (200, b"zipped")),
        (ok(zlib.compress(b"deflated"), "Content-Encoding: deflate"), (200, b"deflated")),
        (ok(b""), (200, b"")),
        (b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n", (204, b"")),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(b"after"), (200, b"after")),
    ],
)
async def test_every_framing_of_an_answer_is_read_whole(
    server: tuple[Server, str], answer: bytes, expected: tuple[int, bytes]
) -> None:
    state, url = server
    state.script = lambda head: answer
    assert await call(url) == expected


async def test_an_answer_delimited_by_the_close_is_read_to_the_end(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.script = lambda head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    state.close_after = True
    assert await call(url) == (200, b"until the end")


async def test_connections_are_kept_and_reused(server: tuple[Server, str]) -> None:
    state, url = server
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        for _ in range(5):
            await send(http, "metering", "GET", "/meters")
        await asyncio.gather(*(send(http, "metering", "GET", "/meters") for _ in range(3)))
    assert len(state.requests) == 8
    assert state.connections == 3  # one for the five in turn, three for the three at once


async def test_at_most_max_connections_are_opened(server: tuple[Server, str]) -> None:
    state, url = server
    state.delay = 0.02
    async with UpstreamHttp(
        url, timeout=2, connect_timeout=1, max_connections=2, trace=False
    ) as http:
        answers = await asyncio.gather(
            *(send(http, "metering", "GET", "/meters") for _ in range(6))
        )
    assert [a.status_code for a in answers] == [200] * 6
    assert state.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    server: tuple[Server, str],
) -> None:
    state, url = server
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        await send(http, "metering", "GET", "/meters")
        state.drop_idle()
        await asyncio.sleep(0.05)
        answer = await send(http, "metering", "GET", "/meters")
    assert answer.status_code == 200
    assert state.connections == 2


async def test_a_get_is_sent_again_when_a_kept_connection_dies_unanswered(
    server: tuple[Server, str],
) -> None:
    # the server takes the second request and closes without a byte (its keep-alive ended)
    state, url = server
    answers = iter([ok(b"first"), None, ok(b"again")])
    state.script = lambda head: next(answers)
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        await send(http, "metering", "GET", "/meters")
        again = await send(http, "metering", "GET", "/meters")
    assert again.content == b"again"
    assert state.connections == 2


async def test_a_post_is_not_sent_again(server: tuple[Server, str]) -> None:
    state, url = server
    answers = iter([ok(b"first"), None, ok(b"again")])
    state.script = lambda head: next(answers)
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        await send(http, "metering", "POST", "/readings", json={})
        with pytest.raises(UpstreamUnavailable, match="closed the connection"):
            await send(http, "metering", "POST", "/readings", json={})
    assert len(state.requests) == 2


async def test_bytes_past_the_answer_retire_the_connection(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.script = lambda head: ok(b"one") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
    async with UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False) as http:
        first = await send(http, "metering", "GET", "/meters")
        await asyncio.sleep(0.05)
        second = await send(http, "metering", "GET", "/meters")
    assert (first.content, second.content) == (b"one", b"one")
    assert state.connections == 2  # the connection that got extra bytes was not reused


async def test_a_slow_answer_is_a_timeout_and_its_connection_is_dropped(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.delay = 0.5
    async with UpstreamHttp(url, timeout=0.1, connect_timeout=1, trace=False) as http:
        with pytest.raises(UpstreamTimeout):
            await send(http, "metering", "GET", "/meters")
        state.delay = 0
        answer = await send(http, "metering", "GET", "/meters")
    assert answer.status_code == 200
    assert state.connections == 2  # the late answer never reached the next request


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "malformed answer"),
        (ok(b"x", "Content-Encoding: br"), "undecodable answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed the connection"),
        (None, "closed the connection"),
    ],
)
async def test_broken_answers_are_unavailable_upstreams(
    server: tuple[Server, str], answer: bytes | None, message: str
) -> None:
    state, url = server
    state.script = lambda head: answer
    state.close_after = True
    with pytest.raises(UpstreamUnavailable, match=message):
        await call(url, "/meters")


async def test_a_5xx_is_an_unavailable_upstream_and_a_4xx_is_returned(
    server: tuple[Server, str],
) -> None:
    state, url = server
    state.script = lambda head: b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
    assert await call(url) == (404, b"{}")
    state.script = lambda head: b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(UpstreamUnavailable, match="HTTP 503"):
        await call(url)


async def test_nobody_listening_is_an_unavailable_upstream() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        await call(f"http://127.0.0.1:{port}")


async def test_an_oversized_answer_is_refused(server: tuple[Server, str]) -> None:
    state, url = server
    state.script = lambda head: ok(b"x" * 2000)
    origin = Origin(url, max_body=1000)
    wire = request_bytes("GET", "/", origin.authority, [], None)
    with pytest.raises(HttpError, match="over 1000 bytes"):
        await origin.exchange("GET", wire)
    await origin.close()


def test_line_breaks_and_head_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_bytes("GET", "/a\r\nX-Evil: 1", "h", [], None)
    with pytest.raises(ValueError, match="line break"):
        request_bytes("GET", "/", "h", [("X-Name", "a\nb")], None)
    with pytest.raises(ValueError, match="latin-1"):
        request_bytes("GET", "/", "h", [("X-Name", "Иванова")], None)
    with pytest.raises(ValueError, match="HEAD"):
        request_bytes("HEAD", "/", "h", [], None)


async def test_a_closed_client_refuses_new_calls(server: tuple[Server, str]) -> None:
    _, url = server
    http = UpstreamHttp(url, timeout=1, connect_timeout=1, trace=False)
    await http.aclose()
    with pytest.raises(UpstreamUnavailable, match="closed"):
        await send(http, "metering", "GET", "/meters")
