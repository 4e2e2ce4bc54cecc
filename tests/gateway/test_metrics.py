"""``/metrics``: the Prometheus figures an operator watches (GW-5, MTR-7)."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from emulators.host import EmulatorHost
from gateway.clock import Clock
from gateway.metrics import CATALOGUE
from gateway.services import Services
from gateway.settings import Settings
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql, wait_for


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition, or fail."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    assert found, f"{name} {labels} not in metrics"
    return float(found.group(1))


async def test_metrics_count_operations_upstream_calls_and_breakers(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    await graphql(
        client, "query Dashboard { me { accounts { number debts { total } } } }", headers=headers
    )
    emulators.runtimes["billing"].faults.update({"outage": True})
    await graphql(client, "query Dashboard { me { accounts { address } } }", headers=headers)

    response = await client.get("/metrics")
    text = response.text

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert (
        sample(
            text, "lkk_graphql_operations_total", operation="Dashboard", type="query", outcome="ok"
        )
        == 1
    )
    assert (
        sample(
            text,
            "lkk_graphql_operations_total",
            operation="Dashboard",
            type="query",
            outcome="errors",
        )
        == 1
    )
    assert sample(text, "lkk_upstream_calls_total", upstream="billing", outcome="ok") == 1
    assert sample(text, "lkk_upstream_calls_total", upstream="billing", outcome="unavailable") >= 1
    assert sample(text, "lkk_upstream_call_seconds_count", upstream="billing") >= 2
    assert sample(text, "lkk_upstream_breaker_state", upstream="metering") == 0
    assert sample(text, "lkk_cache_lookups_total", result="miss") >= 1
    assert sample(text, "lkk_outbox_writes", state="pending") == 0
    assert "lkk_build_info{" in text
    assert sample(text, "lkk_payment_events_total", event="started") == 0
    assert sample(text, "lkk_payments_unrepaired") == 0
    for doc in CATALOGUE:  # every documented metric is exposed
        assert f"# TYPE {doc.name}" in text


async def test_metrics_can_require_a_token(
    emulators: EmulatorHost, tmp_path: Path, clock: Clock
) -> None:
    from gateway.app import create_app

    settings = settings_for(emulators, tmp_path, metrics_token="scrape-me")
    app = create_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://g.test"
        ) as http,
    ):
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"authorization": "Bearer nope"})
        right = await http.get("/metrics", headers={"authorization": "Bearer scrape-me"})

    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert right.status_code == 200


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    """Two delivery attempts, quick retries: a reading is dead-lettered within the test."""
    return settings_for(
        emulators,
        tmp_path,
        outbox_max_attempts=2,
        outbox_poll_seconds=0.05,
        outbox_backoff_seconds=0.05,
        outbox_backoff_max_seconds=0.1,
        readings_window_first_day=1,
        readings_window_last_day=31,
    )


async def test_a_dead_lettered_reading_is_counted_and_logged(
    client: httpx.AsyncClient,
    emulators: EmulatorHost,
    app: Starlette,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = await sign_in_demo(client)
    meters = await graphql(
        client, "{ me { accounts { meters { id lastReadings { value } } } } }", headers=headers
    )
    last = next(m for m in meters["data"]["me"]["accounts"][0]["meters"] if m["id"] == "100002")[
        "lastReadings"
    ][0]["value"]
    emulators.runtimes["metering"].faults.update({"outage": True})
    services: Services = app.state.services

    with caplog.at_level(logging.ERROR, logger="gateway.outbox"):
        answer = await graphql(
            client,
            """mutation($input: SubmitReadingsInput!) {
              submitReadings(input: $input) { submission { status } errors { code } } }""",
            {
                "input": {
                    "meterId": "100002",
                    "values": [{"zone": "SINGLE", "value": f"{float(last) + 5:.1f}"}],
                    "idempotencyKey": str(uuid.uuid4()),
                }
            },
            headers=headers,
        )
        clock.advance(timedelta(seconds=5))

        async def dead() -> bool:
            return (await services.outbox.depth()).get("dead") == 1

        await wait_for(dead, within=10)
    text = (await client.get("/metrics")).text

    assert answer["data"]["submitReadings"]["submission"]["status"] == "PENDING"
    assert sample(text, "lkk_outbox_dead_lettered_total") == 1
    assert sample(text, "lkk_outbox_writes", state="dead") == 1
    assert any(r.getMessage() == "outbox write dead-lettered" for r in caplog.records)
