"""The adapters' HTTP clients carry the current trace to the legacy systems (GW-5): the W3C
``traceparent`` of the span that asked, over a real socket; none when nothing is traced."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider

from adapters.billing import soap_http
from adapters.http import UpstreamHttp, send


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    """A legacy system that answers with the request headers it got, as JSON."""

    async def headers(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    app = web.Application()
    app.router.add_get("/headers", headers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _traceparent_of(trace_id: int) -> str:
    return f"00-{trace_id:032x}-"


@pytest.mark.parametrize("trace", [True, False])
async def test_a_rest_call_carries_the_trace_of_the_span_that_made_it(
    echo: str, trace: bool
) -> None:
    # given
    tracer = TracerProvider().get_tracer("test")
    async with UpstreamHttp(echo, timeout=2, connect_timeout=2, trace=trace) as http:
        # when
        with tracer.start_as_current_span("resolver") as span:
            seen = (await send(http, "echo", "GET", "/headers")).json()

    # then
    trace_id = span.get_span_context().trace_id
    if trace:
        assert seen["traceparent"].startswith(_traceparent_of(trace_id))
    else:
        assert "traceparent" not in seen


@pytest.mark.parametrize("trace", [True, False])
async def test_billings_client_carries_the_trace_the_same_way(echo: str, trace: bool) -> None:
    # given
    tracer = TracerProvider().get_tracer("test")
    async with soap_http(echo, timeout=2, connect_timeout=2, trace=trace) as http:
        # when
        with tracer.start_as_current_span("resolver") as span:
            seen = (await http.get("/headers")).json()

    # then
    trace_id = span.get_span_context().trace_id
    if trace:
        assert seen["traceparent"].startswith(_traceparent_of(trace_id))
    else:
        assert "traceparent" not in seen
