"""Payments against a gateway on a real port: the acquirer emulator delivers its signed
webhooks to it, and customers follow their payments over graphql-transport-ws (PAY-3..5,
GW-1)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from emulators.host import EmulatorHost
from gateway.clock import Clock
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    DECLINED,
    PROTOCOL,
    SUCCEEDS,
    THREE_DS,
    THREE_DS_CODE,
    TIMES_OUT,
    Acquirer,
    LiveGateway,
    Subscriber,
    acquirer_id,
    live_gateway,
    payment_input,
    start_payment,
    status_of,
)
from tests.support import graphql, wait_for

REGISTER = """
mutation { register(input: {accountNumber: "7200000002", ownerSurname: "Петров",
  password: "Secret12", passwordConfirmation: "Secret12", consent: true,
  policyVersion: "2026-01"}) { token errors { code } } }"""


@pytest.fixture
async def live(emulators: EmulatorHost, tmp_path: Path, clock: Clock) -> AsyncIterator[LiveGateway]:
    """A live gateway that the acquirer's webhooks reach (retried quickly)."""
    async with live_gateway(emulators, tmp_path, clock) as gateway:
        await Acquirer(emulators).webhooks(
            url=f"{gateway.url}/webhooks/acquirer", retry_delays_ms=[100, 200, 400, 800]
        )
        yield gateway


async def token_of(http: httpx.AsyncClient) -> str:
    headers = await sign_in_demo(http)
    return headers["authorization"].removeprefix("Bearer ")


async def follow(
    live: LiveGateway, emulators: EmulatorHost, card: str, code: str | None = None
) -> tuple[dict[str, Any], Subscriber]:
    """Start a payment, subscribe to it, pay with ``card``; wait for the stream's end."""
    async with live.client() as http:
        token = await token_of(http)
        payload = await start_payment(http, {"authorization": f"Bearer {token}"}, payment_input())
    async with Subscriber.open(live.ws_url, payload["payment"]["id"], token=token) as subscriber:
        await wait_for(lambda: _received(subscriber, 1))
        await Acquirer(emulators).complete(acquirer_id(payload), card, code)
        await asyncio.wait_for(subscriber.completed.wait(), 15)
    return payload, subscriber


async def _received(subscriber: Subscriber, count: int) -> bool:
    return len(subscriber.received) >= count


async def test_a_3ds_payment_is_followed_live_to_booked(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    payload, subscriber = await follow(live, emulators, THREE_DS, THREE_DS_CODE)

    payment_id = payload["payment"]["id"]
    assert subscriber.errors == []
    assert subscriber.statuses == ["PENDING", "SUCCEEDED", "BOOKED"]
    assert {p["id"] for p in subscriber.received} == {payment_id}
    assert subscriber.received[-1]["bookedAt"] is not None
    assert emulators.runtimes["billing"].calls.snapshot()["PostPayment"] == 1
    deliveries = await Acquirer(emulators).deliveries()
    assert [(d["event"], d["state"]) for d in deliveries] == [("payment.succeeded", "delivered")]


async def test_a_declined_card_fails_with_the_banks_reason(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    payload, subscriber = await follow(live, emulators, DECLINED)

    record = await live.services.payments.get(uuid.UUID(payload["payment"]["id"]))
    assert subscriber.statuses == ["PENDING", "FAILED"]
    assert record is not None
    assert record.reason_text == "Недостаточно средств на карте"
    assert subscriber.received[-1]["failureReason"] == "Недостаточно средств на карте"
    assert subscriber.received[0]["failureReason"] is None
    assert "PostPayment" not in emulators.runtimes["billing"].calls.snapshot()


async def test_a_wrong_3ds_code_fails_the_payment(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    payload, subscriber = await follow(live, emulators, THREE_DS, "000000")

    record = await live.services.payments.get(uuid.UUID(payload["payment"]["id"]))
    assert subscriber.statuses == ["PENDING", "FAILED"]
    assert record is not None
    assert record.reason == "3d_secure_failed"
    assert record.reason_text is not None
    assert "3-D Secure" in record.reason_text


async def test_a_card_whose_bank_never_answers_ends_canceled_when_it_expires(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    await Acquirer(emulators).processing(processing_timeout_seconds=1)

    payload, subscriber = await follow(live, emulators, TIMES_OUT)

    record = await live.services.payments.get(uuid.UUID(payload["payment"]["id"]))
    assert subscriber.statuses == ["PENDING", "CANCELED"]
    assert record is not None
    assert record.reason == "expired_on_confirmation"


async def test_duplicated_and_reordered_webhooks_book_each_payment_once(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    acquirer = Acquirer(emulators)
    await acquirer.webhooks(duplicate=True, reorder=True, reorder_hold_ms=300)
    async with live.client() as http:
        headers = await sign_in_demo(http)
        first = await start_payment(http, headers, payment_input(amount="100.00"))
        second = await start_payment(http, headers, payment_input(amount="200.00"))
    await acquirer.complete(acquirer_id(first), SUCCEEDS)
    await acquirer.complete(acquirer_id(second), DECLINED)
    ids = [first["payment"]["id"], second["payment"]["id"]]

    async def settled() -> bool:
        return [await status_of(live.services, i) for i in ids] == ["BOOKED", "FAILED"]

    await wait_for(settled, within=15)

    async def all_delivered() -> bool:
        return all(d["state"] == "delivered" for d in await acquirer.deliveries())

    await wait_for(all_delivered, within=10)
    assert len(await acquirer.deliveries()) == 4
    assert live.services.payments.metrics.webhooks_duplicate == 2
    assert emulators.runtimes["billing"].calls.snapshot()["PostPayment"] == 1


async def test_billing_down_at_the_moment_of_success_books_later_exactly_once(
    live: LiveGateway, emulators: EmulatorHost
) -> None:
    billing = emulators.runtimes["billing"]
    async with live.client() as http:
        headers = await sign_in_demo(http)
        payload = await start_payment(http, headers, payment_input())
    payment_id = payload["payment"]["id"]
    billing.faults.update({"outage": True})
    await Acquirer(emulators).complete(acquirer_id(payload), SUCCEEDS)

    async def succeeded() -> bool:
        return await status_of(live.services, payment_id) == "SUCCEEDED"

    await wait_for(succeeded, within=10)
    await asyncio.sleep(0.3)  # several outbox retries hit the outage
    still = await status_of(live.services, payment_id)
    billing.faults.reset()

    async def booked() -> bool:
        return await status_of(live.services, payment_id) == "BOOKED"

    await wait_for(booked, within=15)
    depth = await live.services.outbox.depth()
    assert still == "SUCCEEDED"
    assert billing.calls.snapshot()["PostPayment"] == 1  # faulted calls never reach billing
    assert depth.get("delivered") == 1


async def test_only_the_customer_who_started_a_payment_may_follow_it(
    live: LiveGateway,
) -> None:
    async with live.client() as http:
        mine = await start_payment(http, await sign_in_demo(http), payment_input())
        other = (await graphql(http, REGISTER))["data"]["register"]["token"]
    payment_id = mine["payment"]["id"]

    async with Subscriber.open(live.ws_url, payment_id, token=other) as stranger:
        await asyncio.wait_for(stranger.completed.wait(), 10)
    async with Subscriber.open(live.ws_url, payment_id) as anonymous:
        await asyncio.wait_for(anonymous.completed.wait(), 10)
    async with Subscriber.open(live.ws_url, str(uuid.uuid4()), token=other) as unknown:
        await asyncio.wait_for(unknown.completed.wait(), 10)

    assert stranger.received == []
    assert [e["extensions"]["code"] for e in stranger.errors] == ["FORBIDDEN"]
    assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"]
    assert [e["extensions"]["code"] for e in unknown.errors] == ["FORBIDDEN"]


async def test_an_unknown_token_in_connection_init_is_refused(live: LiveGateway) -> None:
    async with connect(live.ws_url, subprotocols=[PROTOCOL]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_session_cookie_works_from_the_gateways_own_pages_only(
    live: LiveGateway,
) -> None:
    async with live.client() as http:
        headers = await sign_in_demo(http)
        payload = await start_payment(http, headers, payment_input())
    token = headers["authorization"].removeprefix("Bearer ")
    cookie = {"cookie": f"lkk_session={token}"}

    async with Subscriber.open(
        live.ws_url, payload["payment"]["id"], headers={**cookie, "origin": live.url}
    ) as same_site:
        await wait_for(lambda: _received(same_site, 1))
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            live.ws_url,
            subprotocols=[PROTOCOL],
            additional_headers={**cookie, "origin": "https://evil.example"},
        ):
            pass

    assert same_site.statuses == ["PENDING"]
    assert refused.value.response.status_code == 403
