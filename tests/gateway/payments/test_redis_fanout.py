"""Status fan-out through Redis pub/sub (PAY-5, GW-4): a change seen by one replica reaches
a subscriber connected to another. Needs ``redis-server`` (``apt-get install redis-server``);
skipped when it is missing."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.payments import setup
from gateway.payments.broker import RedisBroker
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    SUCCEEDS,
    Acquirer,
    Subscriber,
    acquirer_id,
    fast_settings,
    free_port,
    live_gateway,
    payment_input,
    signed,
    start_payment,
)
from tests.support import wait_for


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private Redis server on a free port, for this module only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    sock = free_port()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_an_announcement_on_one_broker_reaches_a_listener_of_another(
    redis_url: str,
) -> None:
    here, there = RedisBroker(redis_url), RedisBroker(redis_url)
    await here.start()
    await there.start()
    payment_id = uuid.uuid4()
    try:
        async with there.listen(payment_id) as listener, here.listen(uuid.uuid4()) as other:
            await here.publish(payment_id, 2)
            received = await listener.next(within=5)
            nothing = await other.next(within=0.2)
    finally:
        await here.close()
        await there.close()

    assert received == 2
    assert nothing is None


async def test_a_subscriber_on_one_replica_follows_a_webhook_handled_by_another(
    redis_url: str,
    emulators: EmulatorHost,
    tmp_path: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two replicas over one store and one Redis: A holds the WebSocket, B takes the webhook.
    # Only the payment fan-out is pointed at Redis (LKK_REDIS_URL would also move the rate
    # limits, cache and APQ there, whose connections are not closed at shutdown: reported).
    monkeypatch.setattr(setup, "make_broker", lambda _url: RedisBroker(redis_url))
    async with live_gateway(emulators, tmp_path, clock) as replica_a:
        replica_b = create_app(fast_settings(emulators, tmp_path), clock=clock)
        async with replica_b.router.lifespan_context(replica_b):
            transport = httpx.ASGITransport(app=replica_b)
            async with httpx.AsyncClient(transport=transport, base_url="https://b.test") as b:
                headers = await sign_in_demo(b)
                payload = await start_payment(b, headers, payment_input())
                token = headers["authorization"].removeprefix("Bearer ")
                payment_id = payload["payment"]["id"]
                async with Subscriber.open(replica_a.ws_url, payment_id, token=token) as subscriber:

                    async def first() -> bool:
                        return len(subscriber.received) >= 1

                    await wait_for(first)
                    await Acquirer(emulators).complete(acquirer_id(payload), SUCCEEDS)
                    paid = await Acquirer(emulators).payment(acquirer_id(payload))
                    body, sent = signed("payment.succeeded", paid)
                    answer = await b.post("/webhooks/acquirer", content=body, headers=sent)
                    await asyncio.wait_for(subscriber.completed.wait(), 15)
                    events = replica_a.services.payments.events

    assert answer.json() == {"status": "applied"}
    assert subscriber.statuses == ["PENDING", "SUCCEEDED", "BOOKED"]
    assert isinstance(events, RedisBroker)
    assert events.local.published >= 2  # the changes reached replica A through Redis
