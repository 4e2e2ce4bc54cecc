"""While Redis is away the gateway keeps serving, degraded, and says so in its metrics (GW-4):
the cache turns into misses (the upstreams answer instead), the sign-in limits fail open, the
code-sending limits fail closed (docs/scale-out.md), and every failure is counted. When Redis
returns, so does the cache.

Redis is reached through a relay the test cuts and restores, so the shared Redis of the
other tests is never stopped. One gateway in-process is enough here: what is shown is one
process's behaviour without Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from emulators.host import EmulatorHost
from gateway.app import create_app
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import DEMO_LOGIN, SIGN_IN, sign_in_demo
from tests.scale.fleet import TcpProxy
from tests.support import graphql, message_count

pytestmark = pytest.mark.scale

DASHBOARD = """
query {
  account(number: "7200000001") {
    address debts { total stale } meters { id lastReadings { zone value } stale }
  }
}"""
REQUEST_CODE = """
mutation {
  requestContactCode(input: {channel: PHONE, value: "+79123456781"}) { errors { code } }
}"""


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[TcpProxy]:
    """A relay to the tests' Redis that the test can cut."""
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def gateway(
    emulators: EmulatorHost, tmp_path: Path, redis_url: str, relay: TcpProxy
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """One gateway whose Redis is behind the relay, with a short Redis timeout."""
    database = urlsplit(redis_url).path or "/0"
    settings = settings_for(
        emulators,
        tmp_path,
        redis_url=f"redis://127.0.0.1:{relay.port}{database}",
        redis_timeout_seconds=0.3,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http:
            yield app, http


async def dashboard(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = await graphql(client, DASHBOARD, headers=headers)
    assert "errors" not in body, body
    account: dict[str, Any] = body["data"]["account"]
    return account


def upstream_calls(emulators: EmulatorHost) -> int:
    return sum(
        sum(emulators.runtimes[name].calls.snapshot().values()) for name in ("billing", "metering")
    )


def reset_calls(emulators: EmulatorHost) -> None:
    for runtime in emulators.runtimes.values():
        runtime.calls.reset()


async def redis_errors(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("lkk_redis_errors_total{"):
            use = line.split('use="', 1)[1].split('"', 1)[0]
            found[use] = float(line.rsplit(" ", 1)[1])
    return found


async def test_without_redis_the_gateway_serves_degraded_and_counts_it(
    gateway: tuple[Starlette, httpx.AsyncClient], relay: TcpProxy, emulators: EmulatorHost
) -> None:
    _, client = gateway
    headers = await sign_in_demo(client)
    shown = await dashboard(client, headers)
    reset_calls(emulators)
    assert await dashboard(client, headers) == shown
    assert upstream_calls(emulators) == 0  # served from Redis
    before = await redis_errors(client)

    # When Redis goes away
    await relay.cut()
    signed_in = await sign_in_demo(client)
    wrong = await graphql(client, SIGN_IN, {"login": DEMO_LOGIN, "password": "Wrong2026!"})
    degraded = await dashboard(client, signed_in)
    calls_without_redis = upstream_calls(emulators)
    code = await graphql(client, REQUEST_CODE, headers=signed_in)
    during = await redis_errors(client)

    # Then customers still sign in and read their data (from the upstreams); no code is sent
    assert degraded == shown
    assert calls_without_redis > 0
    assert [e["code"] for e in wrong["data"]["signIn"]["errors"]] == ["INVALID_CREDENTIALS"]
    assert [e["code"] for e in code["data"]["requestContactCode"]["errors"]] == [
        "CODE_HOURLY_LIMIT"
    ]
    sms = f"{emulators.config.sms_url}/sms/messages"
    assert await message_count(sms, {"phone": "79123456781"}) == 0
    assert before == {"cache": 0, "rate_limits": 0, "payment_events": 0}
    assert during["cache"] > 0
    assert during["rate_limits"] > 0


async def test_when_redis_returns_the_cache_and_the_limits_work_again(
    gateway: tuple[Starlette, httpx.AsyncClient], relay: TcpProxy, emulators: EmulatorHost
) -> None:
    _, client = gateway
    headers = await sign_in_demo(client)
    await relay.cut()
    await dashboard(client, headers)

    await relay.restore()
    await dashboard(client, headers)  # the first reads after the blip may still miss
    await dashboard(client, headers)
    reset_calls(emulators)
    warm = await dashboard(client, headers)
    code = await graphql(client, REQUEST_CODE, headers=headers)

    assert warm["meters"]
    assert upstream_calls(emulators) == 0
    assert code["data"]["requestContactCode"]["errors"] == []
