"""Reconciliation (PAY-5) and durability of bookings: payments stuck between the acquirer
and billing are repaired, what cannot be repaired is flagged for a human, and a booking
queued when the gateway stops is made after it starts again, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from adapters.billing import SupplierGroup
from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.services import Services
from gateway.settings import Settings
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    ACCOUNT,
    SUCCEEDS,
    Acquirer,
    acquirer_id,
    codes,
    fast_settings,
    payment_input,
    signed,
    start_payment,
    status_of,
)
from tests.support import wait_for

PAST_THRESHOLD = timedelta(seconds=61)


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    return fast_settings(emulators, tmp_path)


@pytest.fixture
def services(app: Starlette) -> Services:
    found: Services = app.state.services
    return found


async def test_a_payment_whose_webhook_never_came_is_found_paid_and_booked(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    payload = await start_payment(client, headers, payment_input())
    payment_id = payload["payment"]["id"]
    # the acquirer's notification URL points nowhere: no webhook will arrive
    await Acquirer(emulators).complete(acquirer_id(payload), SUCCEEDS)
    before = await status_of(services, payment_id)

    clock.advance(PAST_THRESHOLD)

    async def booked() -> bool:
        return await status_of(services, payment_id) == "BOOKED"

    await wait_for(booked, within=10)
    changes = await services.payments.changes(uuid.UUID(payment_id), 0)
    assert before == "PENDING"
    assert [c.status.name for c in changes] == ["PENDING", "SUCCEEDED", "BOOKED"]
    assert services.payments.metrics.repaired >= 1
    assert emulators.runtimes["acquirer"].calls.snapshot()["GetPayment"] >= 1
    assert emulators.runtimes["billing"].calls.snapshot()["PostPayment"] == 1


async def test_a_payment_still_waiting_for_its_customer_is_left_alone(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    payload = await start_payment(client, headers, payment_input())

    clock.advance(PAST_THRESHOLD)

    async def asked() -> bool:
        return emulators.runtimes["acquirer"].calls.snapshot().get("GetPayment", 0) >= 1

    await wait_for(asked)
    assert await status_of(services, payload["payment"]["id"]) == "PENDING"
    assert services.payments.metrics.unrepaired == 0


async def test_a_payment_never_created_at_the_acquirer_is_canceled(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    emulators.runtimes["acquirer"].faults.update({"outage": True})
    down = await start_payment(client, headers, payment_input(idempotencyKey="lost-answer"))
    emulators.runtimes["acquirer"].faults.reset()
    record = next(iter((await services.payments.unbooked([ACCOUNT]))[ACCOUNT]))

    clock.advance(PAST_THRESHOLD)

    async def canceled() -> bool:
        return await status_of(services, record.id) == "CANCELED"

    await wait_for(canceled)
    found = await services.payments.get(uuid.UUID(record.id))
    assert codes(down) == ["SERVICE_UNAVAILABLE"]
    assert found is not None
    assert found.reason == "not_created"
    assert found.reason_text is not None
    assert "Деньги не списаны" in found.reason_text


async def test_a_booking_billing_refuses_is_flagged_for_a_human(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    payload = await start_payment(client, headers, payment_input())
    payment_id = payload["payment"]["id"]
    # billing already holds another payment under this ExternalId: it refuses ours
    await services.upstreams.billing.post_payment(
        payment_id, ACCOUNT, SupplierGroup.HOUSING, Decimal("1.00"), datetime.now(UTC), "other"
    )
    await Acquirer(emulators).complete(acquirer_id(payload), SUCCEEDS)
    payment = await Acquirer(emulators).payment(acquirer_id(payload))
    body, sent = signed("payment.succeeded", payment)
    await client.post("/webhooks/acquirer", content=body, headers=sent)

    async def rejected() -> bool:
        return (await services.outbox.depth()).get("rejected") == 1

    await wait_for(rejected)
    clock.advance(PAST_THRESHOLD)

    async def flagged() -> bool:
        return services.payments.metrics.unrepaired == 1

    await wait_for(flagged)
    found = await services.payments.get(uuid.UUID(payment_id))
    assert found is not None
    assert found.status.name == "SUCCEEDED"
    assert "billing did not take the booking" in found.attention
    assert services.payments.metrics.attention_flagged == 1


async def test_a_booking_queued_when_the_gateway_stops_is_made_after_a_restart_once(
    emulators: EmulatorHost, settings: Settings, clock: Clock
) -> None:
    billing = emulators.runtimes["billing"]

    async def gateway() -> AsyncGenerator[tuple[Starlette, httpx.AsyncClient]]:
        application = create_app(settings, clock=clock)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://gateway.test"
            ) as http:
                yield application, http

    first = gateway()
    application, http = await anext(first)
    payload = await start_payment(http, await sign_in_demo(http), payment_input())
    payment_id = payload["payment"]["id"]
    await Acquirer(emulators).complete(acquirer_id(payload), SUCCEEDS)
    payment = await Acquirer(emulators).payment(acquirer_id(payload))
    billing.faults.update({"outage": True})
    body, headers = signed("payment.succeeded", payment)
    answer = await http.post("/webhooks/acquirer", content=body, headers=headers)
    queued = await status_of(application.state.services, payment_id)
    await first.aclose()  # stops with the booking undelivered

    billing.faults.reset()
    second = gateway()
    application, http = await anext(second)

    async def booked() -> bool:
        return await status_of(application.state.services, payment_id) == "BOOKED"

    try:
        await wait_for(booked, within=15)
    finally:
        await second.aclose()

    assert answer.status_code == 200
    assert queued == "SUCCEEDED"
    assert billing.calls.snapshot()["PostPayment"] == 1
