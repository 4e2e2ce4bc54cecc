"""Submitting readings through GraphQL (MTR-1..7) against the metering emulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from emulators.data import add_months
from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.services import Services
from gateway.settings import Settings
from tests.gateway.conftest import settings_for
from tests.gateway.journeys import sign_in_demo
from tests.support import graphql, wait_for

UTILITY = ZoneInfo("Asia/Yekaterinburg")

SUBMIT = """
mutation($input: SubmitReadingsInput!) {
  submitReadings(input: $input) {
    submission {
      id meterId status submittedAt message
      values { zone value date }
      consumption { zone kwh }
    }
    errors { code field message }
  }
}"""
METER = """
query($number: AccountNumber!) {
  account(number: $number) {
    readingsWindow { firstDay lastDay opensOn closesOn isOpen timeZone }
    meters {
      id canSubmit
      lastReadings { zone value date }
      pendingSubmissions { id status values { zone value } }
    }
  }
}"""
HISTORY = """
query($number: AccountNumber!, $first: Int, $after: String) {
  account(number: $number) {
    meters {
      id
      readings(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { date zone value source replaced } }
      }
    }
  }
}"""
CONSUMPTION = """
query($number: AccountNumber!, $since: Date!, $until: Date!) {
  account(number: $number) { meters { id consumption(since: $since, until: $until) {
    month zone kwh } } }
}"""


def local(day: int, hour: int = 12, minute: int = 0, *, months_ahead: int = 0) -> datetime:
    """A moment of the current month (or a later one) in the utility's time zone."""
    month = add_months(datetime.now(UTILITY).date(), months_ahead)
    return datetime.combine(month.replace(day=day), time(hour, minute), tzinfo=UTILITY)


def freeze(clock: Clock, emulators: EmulatorHost, moment: datetime) -> None:
    """The gateway and metering agree on now."""
    clock.freeze(moment)
    emulators.runtimes["metering"].clock.freeze(moment)


@pytest.fixture
def clock(emulators: EmulatorHost) -> Clock:
    """Both clocks on the 10th of this month at noon: the readings window is open."""
    frozen = Clock()
    freeze(frozen, emulators, local(10))
    return frozen


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    """Quick outbox retries, so a delivery after an outage takes a moment."""
    return settings_for(
        emulators,
        tmp_path,
        outbox_poll_seconds=0.05,
        outbox_backoff_seconds=0.05,
        outbox_backoff_max_seconds=0.2,
    )


def submission(meter: str, *values: tuple[str, str], **extra: Any) -> dict[str, Any]:
    zones = [{"zone": zone, "value": value} for zone, value in values]
    key = extra.pop("key", str(uuid.uuid4()))
    return {"input": {"meterId": meter, "values": zones, "idempotencyKey": key, **extra}}


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], variables: dict[str, Any]
) -> dict[str, Any]:
    body = await graphql(client, SUBMIT, variables, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["submitReadings"]
    return payload


async def meters(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = await graphql(client, METER, {"number": "7200000001"}, headers=headers)
    assert "errors" not in body, body
    return {m["id"]: m for m in body["data"]["account"]["meters"]}


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def last_value(client: httpx.AsyncClient, headers: dict[str, str], meter: str) -> str:
    found = await meters(client, headers)
    value: str = found[meter]["lastReadings"][0]["value"]
    return value


async def test_an_accepted_reading_returns_the_implied_consumption(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)
    before = await meters(client, headers)
    previous = {r["zone"]: r["value"] for r in before["100001"]["lastReadings"]}
    day = f"{float(previous['DAY']) + 150.5:.1f}"
    night = f"{float(previous['NIGHT']) + 70:.1f}"

    payload = await submit(client, headers, submission("100001", ("DAY", day), ("NIGHT", night)))
    after = await meters(client, headers)

    assert payload["errors"] == []
    shown = payload["submission"]
    assert shown["status"] == "ACCEPTED"
    assert {c["zone"]: c["kwh"] for c in shown["consumption"]} == {
        "DAY": "150.5",
        "NIGHT": "70.0",
    }
    assert {r["zone"]: r["value"] for r in after["100001"]["lastReadings"]} == {
        "DAY": day,
        "NIGHT": night,
    }
    assert after["100001"]["pendingSubmissions"] == []


async def test_a_repeat_with_the_same_key_gets_the_first_answer_and_another_value_is_refused(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    value = f"{float(await last_value(client, headers, '100002')) + 10:.1f}"
    variables = submission("100002", ("SINGLE", value), key="reading-1")

    first = await submit(client, headers, variables)
    again = await submit(client, headers, variables)
    other = await submit(client, headers, submission("100002", ("SINGLE", "9999"), key="reading-1"))

    assert again == first
    assert codes(other) == ["IDEMPOTENCY_KEY_REUSED"]
    assert emulators.runtimes["metering"].calls.snapshot()["SubmitReadings"] == 1


async def test_a_closed_meter_takes_no_readings(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    payload = await submit(client, headers, submission("100003", ("SINGLE", "80000")))
    shown = await meters(client, headers)

    assert codes(payload) == ["METER_CLOSED"]
    assert shown["100003"]["canSubmit"] is False


async def test_unknown_and_foreign_meters_are_not_found(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    foreign = await submit(client, headers, submission("100004", ("SINGLE", "1")))
    unknown = await submit(client, headers, submission("999999", ("SINGLE", "1")))

    assert codes(foreign) == ["METER_NOT_FOUND"]
    assert codes(unknown) == ["METER_NOT_FOUND"]


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (local(1, 0, 0), True),
        (local(25, 23, 59), True),
        (local(26, 0, 0), False),
        (local(1, 0, 0, months_ahead=1) - timedelta(minutes=1), False),
    ],
)
async def test_the_window_runs_from_the_1st_to_the_25th_in_yekaterinburg(
    client: httpx.AsyncClient,
    emulators: EmulatorHost,
    clock: Clock,
    moment: datetime,
    *,
    is_open: bool,
) -> None:
    freeze(clock, emulators, moment)
    headers = await sign_in_demo(client)
    value = f"{float(await last_value(client, headers, '100002')) + 10:.1f}"

    payload = await submit(client, headers, submission("100002", ("SINGLE", value)))
    window = (await graphql(client, METER, {"number": "7200000001"}, headers=headers))["data"]
    shown = window["account"]["readingsWindow"]

    assert shown["isOpen"] is is_open
    assert shown["timeZone"] == "Asia/Yekaterinburg"
    if is_open:
        assert payload["errors"] == []
        assert shown["closesOn"] == moment.date().replace(day=25).isoformat()
    else:
        assert codes(payload) == ["READINGS_WINDOW_CLOSED"]
        assert "с 1 по 25" in payload["errors"][0]["message"]
        assert shown["opensOn"] == add_months(moment.date(), 1).isoformat()


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ((("DAY", "50000"),), "ZONES_MISMATCH"),
        ((("DAY", "50000"), ("NIGHT", "30000"), ("PEAK", "1")), "ZONES_MISMATCH"),
        ((("SINGLE", "50000"),), "ZONES_MISMATCH"),
        ((("DAY", "1"), ("NIGHT", "30000")), "READING_BELOW_PREVIOUS"),
        ((("DAY", "1000000"), ("NIGHT", "30000")), "READING_EXCEEDS_CAPACITY"),
        ((("DAY", "50000.25"), ("NIGHT", "30000")), "READING_INVALID"),
        ((("DAY", "-5"), ("NIGHT", "30000")), "READING_INVALID"),
        ((("DAY", "60000"), ("NIGHT", "30000")), "HIGH_CONSUMPTION_UNCONFIRMED"),
    ],
)
async def test_each_rule_refuses_with_its_own_code(
    client: httpx.AsyncClient,
    emulators: EmulatorHost,
    values: tuple[tuple[str, str], ...],
    code: str,
) -> None:
    headers = await sign_in_demo(client)

    payload = await submit(client, headers, submission("100001", *values))

    assert codes(payload) == [code]
    assert payload["submission"] is None
    assert payload["errors"][0]["message"]
    assert "SubmitReadings" not in emulators.runtimes["metering"].calls.snapshot()


async def test_high_consumption_passes_once_confirmed(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    payload = await submit(
        client,
        headers,
        submission("100001", ("DAY", "60000"), ("NIGHT", "30000"), confirmHighConsumption=True),
    )

    assert payload["errors"] == []
    assert payload["submission"]["status"] == "ACCEPTED"


async def test_the_last_submission_of_a_month_replaces_the_earlier_one(
    client: httpx.AsyncClient,
) -> None:
    headers = await sign_in_demo(client)
    base = float(await last_value(client, headers, "100002"))

    first = await submit(client, headers, submission("100002", ("SINGLE", f"{base + 50:.1f}")))
    second = await submit(client, headers, submission("100002", ("SINGLE", f"{base + 40:.1f}")))
    history = await graphql(client, HISTORY, {"number": "7200000001", "first": 3}, headers=headers)

    assert first["errors"] == []
    assert second["errors"] == []
    assert second["submission"]["consumption"] == [{"zone": "SINGLE", "kwh": "40.0"}]
    edges = next(m for m in history["data"]["account"]["meters"] if m["id"] == "100002")[
        "readings"
    ]["edges"]
    assert [(e["node"]["value"], e["node"]["replaced"]) for e in edges[:2]] == [
        (f"{base + 40:.1f}", False),
        (f"{base + 50:.1f}", True),
    ]


async def test_a_reading_after_a_rollover_of_the_register_is_accepted(
    client: httpx.AsyncClient, emulators: EmulatorHost, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    near_the_end = await submit(
        client,
        headers,
        submission("100002", ("SINGLE", "99990.0"), confirmHighConsumption=True),
    )
    freeze(clock, emulators, local(10, months_ahead=1))
    headers = await sign_in_demo(client)  # a month idle: the old session has expired

    rolled = await submit(client, headers, submission("100002", ("SINGLE", "25.0")))

    assert near_the_end["errors"] == []
    assert rolled["errors"] == []
    assert rolled["submission"]["consumption"] == [{"zone": "SINGLE", "kwh": "35.0"}]


async def test_history_pages_with_cursors(client: httpx.AsyncClient) -> None:
    headers = await sign_in_demo(client)

    def meter_of(body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = next(
            m for m in body["data"]["account"]["meters"] if m["id"] == "100001"
        )["readings"]
        return found

    first = meter_of(
        await graphql(client, HISTORY, {"number": "7200000001", "first": 5}, headers=headers)
    )
    cursor = first["pageInfo"]["endCursor"]
    second = meter_of(
        await graphql(
            client,
            HISTORY,
            {"number": "7200000001", "first": 5, "after": cursor},
            headers=headers,
        )
    )
    too_big = await graphql(
        client, HISTORY, {"number": "7200000001", "first": 101}, headers=headers
    )

    assert first["totalCount"] > 10
    assert first["pageInfo"]["hasNextPage"] is True
    assert len(first["edges"]) == len(second["edges"]) == 5
    assert {e["cursor"] for e in first["edges"]}.isdisjoint(e["cursor"] for e in second["edges"])
    dates = [e["node"]["date"] for e in first["edges"] + second["edges"]]
    assert dates == sorted(dates, reverse=True)
    assert too_big["errors"][0]["extensions"]["code"] in {"BAD_USER_INPUT", "PAGE_SIZE_TOO_LARGE"}


async def test_monthly_consumption_follows_the_history_across_a_rollover(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # 7200000002's meter rolled over its five digits during the demo history.
    register = await graphql(
        client,
        """mutation { register(input: {accountNumber: "7200000002", ownerSurname: "Петров",
        password: "Secret12", passwordConfirmation: "Secret12", consent: true,
        policyVersion: "2026-01"}) { token errors { code } } }""",
    )
    token = register["data"]["register"]["token"]
    today = datetime.now(UTILITY).date()
    body = await graphql(
        client,
        CONSUMPTION,
        {
            "number": "7200000002",
            "since": add_months(today, -12).isoformat(),
            "until": today.isoformat(),
        },
        headers={"authorization": f"Bearer {token}"},
    )

    assert "errors" not in body, body
    series = body["data"]["account"]["meters"][0]["consumption"]
    assert len(series) >= 11
    assert all(point["zone"] == "SINGLE" for point in series)
    assert all(0 < float(point["kwh"]) < 1000 for point in series)


async def test_during_a_metering_outage_a_reading_waits_and_is_delivered_once(
    client: httpx.AsyncClient, emulators: EmulatorHost, app: Starlette, clock: Clock
) -> None:
    headers = await sign_in_demo(client)
    value = f"{float(await last_value(client, headers, '100002')) + 12:.1f}"
    metering = emulators.runtimes["metering"]
    metering.faults.update({"outage": True})

    payload = await submit(client, headers, submission("100002", ("SINGLE", value)))
    waiting = await meters(client, headers)  # served stale from cache
    metering.faults.reset()
    clock.advance(timedelta(seconds=5))  # past the backoff of the first retry
    services: Services = app.state.services

    async def delivered() -> bool:
        return (await services.outbox.depth()).get("delivered") == 1

    await wait_for(delivered, within=10)
    after = await meters(client, headers)

    assert payload["errors"] == []
    assert payload["submission"]["status"] == "PENDING"
    pending = waiting["100002"]["pendingSubmissions"]
    assert [p["values"] for p in pending] == [[{"zone": "SINGLE", "value": value}]]
    assert after["100002"]["pendingSubmissions"] == []
    assert after["100002"]["lastReadings"][0]["value"] == value
    assert metering.calls.snapshot()["SubmitReadings"] == 1


async def test_a_delivered_reading_reaches_a_customer_whose_last_answer_was_kept(
    client: httpx.AsyncClient, emulators: EmulatorHost, app: Starlette, clock: Clock
) -> None:
    # Given a reading queued during an outage, the worker's passes run by hand below
    services: Services = app.state.services
    services.outbox.stop()
    headers = await sign_in_demo(client)
    value = f"{float(await last_value(client, headers, '100002')) + 12:.1f}"
    metering = emulators.runtimes["metering"]
    metering.faults.update({"outage": True})
    assert (await submit(client, headers, submission("100002", ("SINGLE", value))))["submission"][
        "status"
    ] == "PENDING"
    metering.faults.reset()
    clock.advance(timedelta(seconds=5))  # past the backoff of the first retry

    # and a customer whose meters, with the pending reading, were given twice (kept)
    waiting = await meters(client, headers)
    assert await meters(client, headers) == waiting
    assert services.responses.stats.hits == 1
    assert waiting["100002"]["pendingSubmissions"] != []

    # When the worker delivers it (no request of the customer's)
    assert await services.outbox.run_once() == 1

    # Then their next answer shows it delivered
    after = await meters(client, headers)
    assert after["100002"]["pendingSubmissions"] == []
    assert after["100002"]["lastReadings"][0]["value"] == value


async def test_a_queued_reading_survives_a_gateway_restart(
    emulators: EmulatorHost, settings: Settings, clock: Clock
) -> None:
    metering = emulators.runtimes["metering"]

    async def gateway() -> AsyncGenerator[tuple[Starlette, httpx.AsyncClient]]:
        application = create_app(settings, clock=clock)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://gateway.test"
            ) as http:
                yield application, http

    first = gateway()
    _, http = await anext(first)
    headers = await sign_in_demo(http)
    value = f"{float(await last_value(http, headers, '100002')) + 7:.1f}"
    metering.faults.update({"outage": True})
    payload = await submit(http, headers, submission("100002", ("SINGLE", value)))
    await first.aclose()  # the gateway stops with the reading undelivered

    metering.faults.reset()
    clock.advance(timedelta(seconds=5))
    second = gateway()
    application, http = await anext(second)
    services: Services = application.state.services

    async def delivered() -> bool:
        return (await services.outbox.depth()).get("delivered") == 1

    try:
        await wait_for(delivered, within=10)
        shown = await last_value(http, await sign_in_demo(http), "100002")
    finally:
        await second.aclose()

    assert payload["submission"]["status"] == "PENDING"
    assert shown == value
    assert metering.calls.snapshot()["SubmitReadings"] == 1


async def test_a_period_locked_by_a_control_reading_refuses_new_readings(
    client: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    headers = await sign_in_demo(client)
    base = float(await last_value(client, headers, "100002"))
    async with httpx.AsyncClient(
        base_url=emulators.config.url(emulators.config.metering_port)
    ) as admin:
        inspected = await admin.post(
            "/_admin/meters/100002/inspections", json={"source": "control"}
        )
    assert inspected.status_code < 300, inspected.text

    payload = await submit(client, headers, submission("100002", ("SINGLE", f"{base + 30:.1f}")))

    assert codes(payload) == ["PERIOD_LOCKED"]
    assert "контрольным снятием" in payload["errors"][0]["message"]
