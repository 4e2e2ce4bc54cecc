"""OpenTelemetry traces from the GraphQL operation down to the upstream call (GW-5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Where the test's spans go."""
    return InMemorySpanExporter()


@pytest.fixture
async def traced(
    emulators: EmulatorHost, tmp_path: Path, clock: Clock, spans: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway that traces into ``spans``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    settings = settings_for(emulators, tmp_path, tracing_enabled=True)
    app = create_app(settings, clock=clock, tracing=provider)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://gateway.test"
        ) as client,
    ):
        yield client


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """The names of a span's parents, nearest first."""
    names: list[str] = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_an_upstream_call_is_a_child_of_the_resolver_that_needed_it(
    traced: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    headers = await sign_in_demo(traced)
    spans.clear()

    body = await graphql(
        traced, "query Debts { me { accounts { debts { total } } } }", headers=headers
    )

    assert "errors" not in body, body
    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    billing = [s for s in finished if s.name == "billing call"]
    assert len(billing) == 1
    chain = ancestors(billing[0], by_id)
    assert "GraphQL Resolving: debts" in chain
    assert chain[-1] == "GraphQL Query: Debts"
    assert {s.context.trace_id for s in finished} == {billing[0].context.trace_id}
    assert billing[0].attributes is not None
    assert billing[0].attributes["lkk.upstream"] == "billing"
