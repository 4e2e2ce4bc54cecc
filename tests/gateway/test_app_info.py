"""appInfo through GraphQL: the gateway probes each legacy system through its adapter."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx

from emulators.host import EmulatorHost
from gateway.app import create_app
from tests.gateway.conftest import settings_for
from tests.support import graphql

APP_INFO = "{ appInfo { version schemaVersion upstreams { name state latencyMs } } }"


def _states(body: dict[str, object]) -> dict[str, str]:
    data = body["data"]
    assert isinstance(data, dict)
    return {u["name"]: u["state"] for u in data["appInfo"]["upstreams"]}


async def test_app_info_shows_every_upstream_up_with_its_latency(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # When
    body = await graphql(client, APP_INFO)

    # Then
    assert "errors" not in body
    info = body["data"]["appInfo"]
    assert info["version"]
    assert len(info["schemaVersion"]) == 12
    assert _states(body) == {
        "billing": "UP",
        "metering": "UP",
        "acquirer": "UP",
        "sms": "UP",
        "mail": "UP",
    }
    assert all(u["latencyMs"] > 0 for u in info["upstreams"])
    # each probe was a real call, answered by the emulator itself
    for system in ("billing", "metering", "acquirer", "sms"):
        assert emulators.runtimes[system].calls.snapshot(), system


async def test_app_info_shows_an_upstream_in_outage_as_down(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # Given
    emulators.runtimes["metering"].faults.outage = True

    # When
    body = await graphql(client, APP_INFO)

    # Then
    states = _states(body)
    assert states["metering"] == "DOWN"
    assert {name for name, state in states.items() if state != "UP"} == {"metering"}
    metering = next(u for u in body["data"]["appInfo"]["upstreams"] if u["name"] == "metering")
    assert metering["latencyMs"] is None


async def test_app_info_shows_a_slow_upstream_as_degraded(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    # Given billing answers in 150 ms, above a 100 ms "slow" threshold
    emulators.runtimes["billing"].faults.latency_ms = 150
    # (a generous time limit: on a loaded machine the probe must not time out to DOWN)
    app = create_app(settings_for(emulators, tmp_path, upstream_slow_ms=100, upstream_timeout=5.0))

    # When
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        body = await graphql(client, APP_INFO)

    # Then
    assert _states(body)["billing"] == "DEGRADED"


async def test_app_info_shows_a_stopped_upstream_as_down(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    # Given nothing listens where the gateway looks for the SMS gateway
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app = create_app(settings_for(emulators, tmp_path, sms_url=f"http://127.0.0.1:{closed_port}"))

    # When
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        body = await graphql(client, APP_INFO)

    # Then
    states = _states(body)
    assert states["sms"] == "DOWN"
    assert states["billing"] == states["metering"] == states["mail"] == "UP"


async def test_app_info_probes_are_shared_by_concurrent_requests(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    # Given probes reused for a minute
    app = create_app(settings_for(emulators, tmp_path, status_cache_seconds=60))

    # When ten clients ask at once, and again later
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        await asyncio.gather(*(graphql(client, APP_INFO) for _ in range(10)))
        await graphql(client, APP_INFO)

    # Then metering was probed once
    assert sum(emulators.runtimes["metering"].calls.snapshot().values()) == 1
