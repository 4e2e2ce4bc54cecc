"""Steps the scale tests share: customers with meters, readings in bulk, and what the store
and metering hold afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from emulators.host import EmulatorHost
from gateway.store.models import OutboxMessage
from tests.gateway.journeys import bearer, link, sign_in_demo
from tests.scale.fleet import Fleet, RoundRobin

REGISTER = """
mutation($number: AccountNumber!, $surname: String!) {
  register(input: {accountNumber: $number, ownerSurname: $surname, password: "Secret12",
    passwordConfirmation: "Secret12", consent: true, policyVersion: "2026-01"}) {
    token errors { code }
  }
}"""
METERS = """
query($number: AccountNumber!) {
  account(number: $number) { meters { id canSubmit zones lastReadings { zone value } } }
}"""
SUBMIT = """
mutation($input: SubmitReadingsInput!) {
  submitReadings(input: $input) { submission { id status } errors { code field message } }
}"""
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class MeterOf:
    """A meter a signed-in customer may submit readings of."""

    headers: dict[str, str]
    meter_id: str
    last: dict[str, Decimal]
    """The last reading of each zone."""


async def _register(rr: RoundRobin, number: str, surname: str) -> dict[str, str]:
    body = await rr.graphql(REGISTER, {"number": number, "surname": surname})
    assert body["data"]["register"]["errors"] == [], body
    return bearer(body["data"]["register"]["token"])


async def customers_with_meters(fleet: Fleet) -> list[MeterOf]:
    """Every working meter of the demo data, each with the headers of its owner: the demo
    customer (with 7200000004 linked too), and the owners of 7200000002 and 7200000003
    registered now. Reading them through the fleet also warms the shared cache."""
    rr = fleet.round_robin()
    demo = await sign_in_demo(rr.next())
    linked = await link(rr.next(), demo, "7200000004", "Иванова")
    assert linked["errors"] == [], linked
    owners = [
        (demo, "7200000001"),
        (demo, "7200000004"),
        (await _register(rr, "7200000002", "Петров"), "7200000002"),
        (await _register(rr, "7200000003", "Семина"), "7200000003"),
    ]
    found: list[MeterOf] = []
    for headers, number in owners:
        body = await rr.graphql(METERS, {"number": number}, headers=headers)
        assert "errors" not in body, body
        for meter in body["data"]["account"]["meters"]:
            if meter["canSubmit"]:
                last = {r["zone"]: Decimal(r["value"]) for r in meter["lastReadings"]}
                found.append(MeterOf(headers, meter["id"], last))
    return found


def reading(meter: MeterOf, step: int) -> dict[str, Any]:
    """The variables of the ``step``-th reading of a meter: every zone ``step`` tenths of a
    kWh above its last reading, with a key of its own."""
    values = [
        {"zone": zone, "value": str((value + step * TENTH).quantize(TENTH))}
        for zone, value in meter.last.items()
    ]
    return {
        "input": {
            "meterId": meter.meter_id,
            "values": values,
            "idempotencyKey": uuid.uuid4().hex,
            "confirmHighConsumption": True,
        }
    }


async def submit_many(
    rr: RoundRobin, meters: list[MeterOf], per_meter: int, *, concurrency: int = 16
) -> list[dict[str, Any]]:
    """``per_meter`` readings of each meter, spread over the replicas, ``concurrency`` at a
    time; the payloads."""
    gate = asyncio.Semaphore(concurrency)

    async def one(meter: MeterOf, step: int) -> dict[str, Any]:
        async with gate:
            body = await rr.graphql(SUBMIT, reading(meter, step), headers=meter.headers)
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["submitReadings"]
        return payload

    return await asyncio.gather(
        *(one(meter, step) for step in range(1, per_meter + 1) for meter in meters)
    )


async def outbox_states(database_url: str) -> dict[str, int]:
    """How many writes the store holds in each outbox state."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            )
            return {state: count for state, count in rows}
    finally:
        await engine.dispose()


async def outbox_keys(database_url: str) -> set[str]:
    """The upstream keys (metering's ``request_id``) of every write in the store."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set((await connection.scalars(select(OutboxMessage.dedup_key))).all())
    finally:
        await engine.dispose()


def metering_deliveries(emulators: EmulatorHost) -> tuple[Counter[str], Counter[str]]:
    """What metering holds per ``request_id``: history entries (one per zone) and
    remembered requests (one per request it answered)."""
    db = emulators.runtimes["metering"].db
    entries = Counter(
        {
            row["request_id"]: row["n"]
            for row in db.query(
                "SELECT request_id, COUNT(*) AS n FROM metering_readings"
                " WHERE request_id IS NOT NULL GROUP BY request_id"
            )
        }
    )
    remembered = Counter(
        {
            row["request_id"]: row["n"]
            for row in db.query(
                "SELECT request_id, COUNT(*) AS n FROM metering_requests GROUP BY request_id"
            )
        }
    )
    return entries, remembered
