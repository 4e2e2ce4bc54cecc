"""The acquirer's webhooks (PAY-5): only signed, fresh notifications count, each once, in
any order; a succeeded payment is booked in billing once. Notifications are signed here
with the emulator's secret and posted to the in-process gateway."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulators.acquirer.webhooks import sign
from emulators.host import EmulatorHost
from gateway.services import Services
from gateway.settings import Settings
from tests.gateway.journeys import sign_in_demo
from tests.gateway.payments.support import (
    ACCOUNT,
    SUCCEEDS,
    WEBHOOK_SECRET,
    Acquirer,
    acquirer_id,
    fast_settings,
    payment_input,
    payments_of,
    signed,
    start_payment,
    status_of,
)
from tests.support import wait_for


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    return fast_settings(emulators, tmp_path)


@pytest.fixture
def services(app: Starlette) -> Services:
    found: Services = app.state.services
    return found


async def paid(
    client: httpx.AsyncClient, emulators: EmulatorHost, headers: dict[str, str], **extra: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a payment and pay it at the acquirer (no webhook reaches the gateway: the
    emulator's notification URL points nowhere); the payload and the acquirer's payment."""
    acquirer = Acquirer(emulators)
    payload = await start_payment(client, headers, payment_input(**extra))
    await acquirer.complete(acquirer_id(payload), SUCCEEDS)
    return payload, await acquirer.payment(acquirer_id(payload))


def booked_since(payload: dict[str, Any]) -> date:
    """A day before the payment was started: where billing's list of it begins."""
    return datetime.fromisoformat(payload["payment"]["createdAt"]).date() - timedelta(days=1)


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/webhooks/acquirer", content=body, headers=headers)


async def test_a_signed_notification_moves_the_payment_and_billing_books_it(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    payment_id = payload["payment"]["id"]

    answer = await post(client, *signed("payment.succeeded", payment))
    after_webhook = await status_of(services, payment_id)

    async def booked() -> bool:
        return await status_of(services, payment_id) == "BOOKED"

    await wait_for(booked, within=10)
    history = await payments_of(client, headers)

    assert answer.status_code == 200
    assert answer.json() == {"status": "applied"}
    assert after_webhook in {"SUCCEEDED", "BOOKED"}
    mine = [p for p in history if p["id"] == payment_id]
    assert len(mine) == 1
    assert mine[0]["status"] == "BOOKED"
    assert mine[0]["bookedAt"] is not None
    booked_in_billing = [
        p
        for p in await services.upstreams.billing.get_payments(
            ACCOUNT, booked_since(payload), booked_since(payload) + timedelta(days=3)
        )
        if p.external_id == payment_id
    ]
    assert len(booked_in_billing) == 1
    assert booked_in_billing[0].acquirer_ref == acquirer_id(payload)
    assert str(booked_in_billing[0].amount) == "1234.50"


async def test_before_billing_books_it_the_payment_is_listed_as_succeeded(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    emulators.runtimes["billing"].clock.freeze(emulators.runtimes["billing"].clock.now())
    payload, payment = await paid(client, emulators, headers)

    await post(client, *signed("payment.succeeded", payment))

    async def posted() -> bool:
        return emulators.runtimes["billing"].calls.snapshot().get("PostPayment") == 1

    await wait_for(posted)
    history = await payments_of(client, headers)
    mine = [p for p in history if p["id"] == payload["payment"]["id"]]
    assert [(p["status"], p["bookedAt"]) for p in mine] == [("SUCCEEDED", None)]


async def test_a_status_change_reaches_a_customer_whose_last_answer_was_kept(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    # Given a customer whose payment list, with a pending payment, was given twice (kept)
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    payment_id = payload["payment"]["id"]

    def status(history: list[dict[str, Any]]) -> list[str]:
        return [p["status"] for p in history if p["id"] == payment_id]

    before = status(await payments_of(client, headers))
    assert status(await payments_of(client, headers)) == before
    assert services.responses.stats.hits == 1

    # When the acquirer's notification moves the payment (no request of the customer's)
    await post(client, *signed("payment.succeeded", payment))

    # Then their next answer shows the new status at once
    assert before == ["PENDING"]
    assert status(await payments_of(client, headers)) in (["SUCCEEDED"], ["BOOKED"])


@pytest.mark.parametrize(
    ("tamper", "status", "error"),
    [
        ("unsigned", 401, "missing_signature"),
        ("wrong secret", 401, "wrong_signature"),
        ("garbled header", 401, "malformed_signature"),
        ("replayed an hour later", 401, "stale_signature"),
        ("signed from the future", 401, "stale_signature"),
        ("body changed after signing", 401, "wrong_signature"),
        ("signed but not a notification", 400, "malformed_body"),
    ],
)
async def test_unsigned_forged_and_stale_notifications_change_nothing(
    client: httpx.AsyncClient,
    emulators: EmulatorHost,
    services: Services,
    tamper: str,
    status: int,
    error: str,
) -> None:
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    body, sent = signed("payment.succeeded", payment)
    if tamper == "unsigned":
        del sent["x-acquirer-signature"]
    elif tamper == "wrong secret":
        body, sent = signed("payment.succeeded", payment, secret="guessed")
    elif tamper == "garbled header":
        sent["x-acquirer-signature"] = "v1=deadbeef"
    elif tamper == "replayed an hour later":
        body, sent = signed("payment.succeeded", payment, at=time.time() - 3600)
    elif tamper == "signed from the future":
        body, sent = signed("payment.succeeded", payment, at=time.time() + 3600)
    elif tamper == "body changed after signing":
        body = body.replace(b'"1234.50"', b'"1.00"')
    else:
        body = b'{"type":"something","event":"payment.succeeded","object":{}}'
        sent = {"x-acquirer-signature": sign(WEBHOOK_SECRET, int(time.time()), body)}

    answer = await post(client, body, sent)

    assert answer.status_code == status
    assert answer.json() == {"error": error}
    assert await status_of(services, payload["payment"]["id"]) == "PENDING"
    assert services.payments.metrics.webhooks_rejected == 1


async def test_a_duplicate_is_answered_ok_and_changes_nothing(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    payment_id = payload["payment"]["id"]

    first = await post(client, *signed("payment.succeeded", payment))
    again = await post(client, *signed("payment.succeeded", payment))  # signed afresh
    together = await asyncio.gather(
        *(post(client, *signed("payment.succeeded", payment)) for _ in range(5))
    )

    async def booked() -> bool:
        return await status_of(services, payment_id) == "BOOKED"

    await wait_for(booked, within=10)
    changes = await services.payments.changes(uuid.UUID(payment_id), 0)

    assert first.json() == {"status": "applied"}
    assert again.json() == {"status": "duplicate"}
    assert {a.json()["status"] for a in together} == {"duplicate"}
    assert [c.status.name for c in changes] == ["PENDING", "SUCCEEDED", "BOOKED"]
    assert emulators.runtimes["billing"].calls.snapshot()["PostPayment"] == 1
    assert services.payments.metrics.webhooks_duplicate == 6


async def test_a_late_or_out_of_order_notification_cannot_move_a_payment_back(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    payment_id = payload["payment"]["id"]
    canceled = {
        **payment,
        "status": "canceled",
        "paid": False,
        "cancellation_details": {"party": "payment_network", "reason": "general_decline"},
    }

    await post(client, *signed("payment.succeeded", payment))
    late = await post(client, *signed("payment.canceled", canceled))

    async def booked() -> bool:
        return await status_of(services, payment_id) == "BOOKED"

    await wait_for(booked, within=10)
    assert late.status_code == 200
    assert late.json() == {"status": "no_change"}


async def test_a_notification_of_an_unknown_payment_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    _, payment = await paid(client, emulators, headers)
    stranger = {**payment, "id": "00000000-0000-0000-0000-000000000000", "metadata": {}}

    answer = await post(client, *signed("payment.succeeded", stranger))

    assert answer.status_code == 200
    assert answer.json() == {"status": "unknown_payment"}
    assert services.payments.metrics.webhooks_unknown == 1


async def test_a_notification_with_another_amount_is_flagged_not_applied(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    payload, payment = await paid(client, emulators, headers)
    other = {**payment, "amount": {"value": "1.00", "currency": "RUB"}}

    answer = await post(client, *signed("payment.succeeded", other))
    record = await services.payments.get(uuid.UUID(payload["payment"]["id"]))

    assert answer.json() == {"status": "mismatch"}
    assert record is not None
    assert record.status.name == "PENDING"
    assert "1.00" in record.attention
    assert services.payments.metrics.attention_flagged == 1


async def test_twenty_duplicate_starts_make_one_payment_and_one_booking(
    client: httpx.AsyncClient, emulators: EmulatorHost, services: Services
) -> None:
    headers = await sign_in_demo(client)
    variables = payment_input(idempotencyKey="twenty-taps")
    acquirer = Acquirer(emulators)

    answers = await asyncio.gather(*(start_payment(client, headers, variables) for _ in range(20)))
    await acquirer.complete(acquirer_id(answers[0]), SUCCEEDS)
    payment = await acquirer.payment(acquirer_id(answers[0]))
    await asyncio.gather(*(post(client, *signed("payment.succeeded", payment)) for _ in range(3)))
    payment_id = answers[0]["payment"]["id"]

    async def booked() -> bool:
        return await status_of(services, payment_id) == "BOOKED"

    await wait_for(booked, within=10)
    calls = emulators.runtimes["billing"].calls.snapshot()
    in_billing = [
        p
        for p in await services.upstreams.billing.get_payments(
            ACCOUNT, booked_since(answers[0]), booked_since(answers[0]) + timedelta(days=3)
        )
        if p.external_id == payment_id
    ]

    assert len({a["payment"]["id"] for a in answers}) == 1
    assert len(await acquirer.payments()) == 1
    assert emulators.runtimes["acquirer"].calls.snapshot()["CreatePayment"] == 1
    assert calls["PostPayment"] == 1
    assert len(in_billing) == 1
