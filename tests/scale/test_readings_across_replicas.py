"""Readings queued during a metering outage through every replica are delivered exactly once
after it (MTR-7, GW-4), even when a replica dies in the middle of delivering them.

"Exactly once" is counted at metering: the ``SubmitReadings`` calls that reached it, the
``request_id`` of each history entry (one entry per zone) and the requests it remembers.
Readings of one meter replace each other within a month, so the values in the history say
nothing; the request ids do.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from emulators.host import EmulatorHost
from tests.scale.fleet import Fleet, TcpProxy, running_fleet, seed_demo_data
from tests.scale.steps import (
    customers_with_meters,
    metering_deliveries,
    outbox_keys,
    outbox_states,
    submit_many,
)
from tests.support import wait_for

pytestmark = pytest.mark.scale


async def test_500_readings_queued_in_an_outage_are_each_delivered_once_after_it(
    fleet: Fleet, emulators: EmulatorHost, database_url: str
) -> None:
    # Given five meters of four customers, and metering down
    meters = await customers_with_meters(fleet)
    metering = emulators.runtimes["metering"]
    metering.faults.update({"outage": True})
    metering.calls.reset()

    # When 500 readings are submitted through all three replicas, round robin
    rr = fleet.round_robin()
    payloads = await submit_many(rr, meters, per_meter=500 // len(meters))
    queued = await outbox_states(database_url)

    # and metering comes back
    metering.faults.reset()

    async def all_delivered() -> bool:
        return (await outbox_states(database_url)).get("delivered") == 500

    await wait_for(all_delivered, within=180, interval=0.5)

    # Then each was answered PENDING, and metering has each exactly once
    assert len(meters) == 5
    assert [p["errors"] for p in payloads] == [[]] * 500
    assert {p["submission"]["status"] for p in payloads} == {"PENDING"}
    assert queued == {"pending": 500}
    zones = {m.meter_id: len(m.last) for m in meters}
    entries, remembered = metering_deliveries(emulators)
    keys = await outbox_keys(database_url)
    assert set(entries) == set(remembered) == keys
    assert set(remembered.values()) == {1}
    assert sum(entries.values()) == 100 * sum(zones.values())
    assert metering.calls.snapshot()["SubmitReadings"] == 500
    delivered_by = [
        (await fleet.metrics(r)).get("lkk_outbox_deliveries_total", 0) for r in fleet.replicas
    ]
    assert sum(delivered_by) == 500


async def test_killing_a_replica_mid_delivery_loses_and_doubles_nothing(
    emulators: EmulatorHost,
    database_url: str,
    fleet_settings: dict[str, str],
    tmp_path: Path,
) -> None:
    # Given three replicas, each reaching metering through a relay that can hold answers back
    config = emulators.config
    relays = [TcpProxy(config.host, config.metering_port) for _ in range(3)]
    for relay in relays:
        await relay.start()
    paths = {
        n: {"LKK_METERING_URL": f"http://127.0.0.1:{relay.port}/api/v1"}
        for n, relay in enumerate(relays)
    }
    await seed_demo_data(database_url)
    try:
        async with running_fleet(tmp_path, fleet_settings, per_replica=paths) as fleet:
            meters = await customers_with_meters(fleet)
            metering = emulators.runtimes["metering"]
            metering.faults.update({"outage": True})
            metering.calls.reset()
            payloads = await submit_many(fleet.round_robin(), meters, per_meter=20)

            # When metering returns, but the first replica to deliver never hears its answer
            for relay in relays:
                relay.holding = True
            metering.faults.reset()
            await asyncio.wait_for(
                asyncio.wait(
                    [asyncio.ensure_future(r.held.wait()) for r in relays],
                    return_when=asyncio.FIRST_COMPLETED,
                ),
                timeout=30,
            )
            victim = next(n for n, relay in enumerate(relays) if relay.held.is_set())
            held = relays[victim].held_requests[0]
            # and is killed there: metering has the reading, the replica's row says pending
            fleet.replicas[victim].kill()
            await fleet.replicas[victim].process.wait()  # type: ignore[union-attr]
            for n, relay in enumerate(relays):
                if n != victim:
                    relay.release()

            async def all_delivered() -> bool:
                return (await outbox_states(database_url)).get("delivered") == 100

            await wait_for(all_delivered, within=120, interval=0.5)
            survivors_ran = all(r.is_running for n, r in enumerate(fleet.replicas) if n != victim)
    finally:
        for relay in relays:
            await relay.close()

    # Then the survivors delivered everything, the victim's write included, each once
    assert [p["submission"]["status"] for p in payloads] == ["PENDING"] * 100
    assert survivors_ran
    assert held.startswith(b"POST /api/v1/meters/"), held
    cut_short = json.loads(held.split(b"\r\n\r\n", 1)[1])["request_id"]
    entries, remembered = metering_deliveries(emulators)
    assert set(entries) == set(remembered) == await outbox_keys(database_url)
    assert set(remembered.values()) == {1}
    zones = {m.meter_id: len(m.last) for m in meters}
    assert sum(entries.values()) == 20 * sum(zones.values())
    assert remembered[cut_short] == 1
    # the victim's call reached metering, and a survivor's repeat was answered from memory
    assert metering.calls.snapshot()["SubmitReadings"] > 100
