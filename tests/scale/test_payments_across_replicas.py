"""A payment's status change seen by one replica reaches a subscription held by another
(PAY-5, GW-4): the change is announced through Redis pub/sub, not found by the subscriber's
periodic re-read (every 15 s), so it arrives within a few seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from emulators.host import EmulatorHost
from schema.payments.subscription import RECHECK_SECONDS
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    SUCCEEDS,
    Acquirer,
    Subscriber,
    acquirer_id,
    payment_input,
    signed,
    start_payment,
)
from tests.scale.fleet import Fleet
from tests.support import wait_for

pytestmark = pytest.mark.scale

FAN_OUT_SECONDS = 5.0
"""Well under the subscribers' periodic re-read: arriving sooner proves the announcement."""


async def test_a_change_seen_by_replica_a_reaches_a_subscriber_on_replica_b(
    fleet: Fleet, emulators: EmulatorHost
) -> None:
    # Given a payment started on replica A and followed on replica B
    a, b = fleet.replicas[0], fleet.replicas[1]
    headers = await sign_in_demo(fleet.client(a))
    payload = await start_payment(fleet.client(a), headers, payment_input())
    token = headers["authorization"].removeprefix("Bearer ")
    acquirer = Acquirer(emulators)
    async with Subscriber.open(b.ws_url, payload["payment"]["id"], token=token) as subscriber:

        async def first() -> bool:
            return len(subscriber.received) >= 1

        await wait_for(first, within=10)

        # When the card is paid and the acquirer's notification lands on replica A
        await acquirer.complete(acquirer_id(payload), SUCCEEDS)
        body, sent = signed("payment.succeeded", await acquirer.payment(acquirer_id(payload)))
        noticed = time.monotonic()
        answer = await fleet.client(a).post("/webhooks/acquirer", content=body, headers=sent)

        async def succeeded() -> bool:
            return len(subscriber.received) >= 2

        await wait_for(succeeded, within=FAN_OUT_SECONDS)
        arrived = time.monotonic() - noticed
        await asyncio.wait_for(subscriber.completed.wait(), 30)

    # Then B's subscriber saw every step, the first one within seconds of A's webhook
    assert answer.json() == {"status": "applied"}
    assert subscriber.errors == []
    assert subscriber.statuses == ["PENDING", "SUCCEEDED", "BOOKED"]
    assert arrived < FAN_OUT_SECONDS < RECHECK_SECONDS
