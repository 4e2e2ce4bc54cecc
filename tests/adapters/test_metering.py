"""Contract tests: the metering adapter against the running metering emulator, over sockets."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.errors import (
    CircuitOpen,
    NotFound,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.http import UpstreamHttp
from adapters.metering import (
    METERING_TZ,
    ZONE_SCHEMES,
    Meter,
    MeteringClient,
    PeriodLocked,
    Reading,
    ReadingRejected,
    ReadingSource,
    ReadingsPage,
    ReadingStatus,
    RejectionReason,
    SubmittedReading,
    SubmittedZone,
    TariffZone,
    ZoneReading,
    parse_meters,
    parse_readings_page,
    parse_submission,
)
from adapters.resilience import Resilience
from emulators.host import EmulatorHost
from tests.adapters.support import Counted, fast_resilience
from tests.emulators.test_acquirer import eventually
from tests.emulators.test_metering import (
    TLS,
    demo,
    demo_readings,
    last_demo_value,
    local_moment,
    root_url,
    seeded_on,
)

TIMEOUT = 0.3


Metering = Counted[MeteringClient, UpstreamHttp]


def resilience(failure_threshold: int = 100) -> Resilience:
    """Fast retries and a breaker that stays closed unless a test lowers it."""
    return fast_resilience("metering", failure_threshold)


def adapter_for(emulators: EmulatorHost, *, breaker_threshold: int = 100) -> Metering:
    """An adapter wired as the gateway wires it (the caller closes ``.http``)."""
    http = UpstreamHttp(emulators.config.metering_url, timeout=TIMEOUT, connect_timeout=TIMEOUT)
    return Metering(MeteringClient(http, resilience(breaker_threshold)), http)


@pytest.fixture
async def metering(emulators: EmulatorHost) -> AsyncIterator[Metering]:
    """The adapter under test."""
    adapter = adapter_for(emulators)
    async with adapter.http:
        yield adapter


@pytest.fixture
async def admin(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the emulator's admin API."""
    async with httpx.AsyncClient(base_url=root_url(emulators), timeout=5, verify=TLS) as client:
        yield client


def faults(emulators: EmulatorHost, **knobs: Any) -> None:
    """Make metering misbehave."""
    emulators.runtimes["metering"].faults.update(knobs)


def calls(emulators: EmulatorHost) -> dict[str, int]:
    """The operations metering served."""
    return emulators.runtimes["metering"].calls.snapshot()


def today(emulators: EmulatorHost) -> date:
    """Metering's local date."""
    return emulators.runtimes["metering"].clock.today()


# --- meters ----------------------------------------------------------------------------


async def test_list_meters_returns_clean_records(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    day = last_demo_value(emulators, "100001", "T1")
    night = last_demo_value(emulators, "100001", "T2")

    # when
    meters = await metering.client.list_meters("7200000001")

    # then
    assert [m.id for m in meters] == ["100001", "100002", "100003"]
    assert meters[0] == Meter(
        id="100001",
        serial="34012587",
        model="Меркурий 200.02",
        zones=(TariffZone.DAY, TariffZone.NIGHT),
        digits=6,
        active=True,
        installed=date(2019, 4, 12),
        closed_on=None,
        verification_due=date(2035, 4, 12),
        last_readings=(
            ZoneReading(TariffZone.DAY, day.value, day.taken_on),
            ZoneReading(TariffZone.NIGHT, night.value, night.taken_on),
        ),
    )
    assert meters[0].capacity == Decimal(1_000_000)
    assert meters[0].last_reading(TariffZone.NIGHT) == ZoneReading(
        TariffZone.NIGHT, night.value, night.taken_on
    )
    assert calls(emulators) == {"ListMeters": 1}


async def test_the_meters_of_several_accounts_come_in_one_call(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # when
    found = await metering.client.list_meters_of(["7200000001", "7200000004", "7299999999"])

    # then
    assert {n: [m.id for m in ms] for n, ms in found.items()} == {
        "7200000001": ["100001", "100002", "100003"],
        "7200000004": ["100006"],
    }
    assert found["7200000001"] == await metering.client.list_meters("7200000001")
    assert calls(emulators) == {"ListMetersBulk": 1, "ListMeters": 1}


async def test_a_closed_meter_is_inactive_with_its_closing_date(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    closed = next(m for m in demo(emulators).meters if m.id == "100003")

    # when
    meter = (await metering.client.list_meters("7200000001"))[2]

    # then
    assert meter.active is False
    assert meter.closed_on == closed.closed
    assert meter.serial == "00872311"
    assert meter.zones == (TariffZone.SINGLE,)


@pytest.mark.parametrize(
    ("account", "zones"),
    [
        ("7200000002", (TariffZone.SINGLE,)),
        ("7200000003", (TariffZone.PEAK, TariffZone.NIGHT, TariffZone.SEMI_PEAK)),
    ],
)
async def test_zones_are_named_by_the_meters_zone_count(
    metering: Metering, emulators: EmulatorHost, account: str, zones: tuple[TariffZone, ...]
) -> None:
    # given
    meter_id = next(m.id for m in demo(emulators).meters if m.account == account)
    codes = [f"T{n}" for n in range(1, len(zones) + 1)]
    expected = tuple(
        ZoneReading(zone, reading.value, reading.taken_on)
        for zone, reading in zip(
            zones, (last_demo_value(emulators, meter_id, code) for code in codes), strict=True
        )
    )

    # when
    (meter,) = await metering.client.list_meters(account)

    # then
    assert meter.zones == zones == ZONE_SCHEMES[len(zones)]
    assert meter.last_readings == expected


async def test_an_unknown_account_is_not_found_and_not_retried(metering: Metering) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await metering.client.list_meters("7299999999")
    assert raised.value.code == "ACCOUNT_NOT_FOUND"
    assert raised.value.message == "Лицевой счёт 7299999999 не найден"
    assert metering.requests == 1


# --- readings --------------------------------------------------------------------------


async def test_list_readings_returns_a_page_of_clean_readings(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    history = demo_readings(emulators, "100005")
    zones = dict(zip(("T1", "T2", "T3"), ZONE_SCHEMES[3], strict=True))
    newest = sorted(history, key=lambda r: (r.taken_on, -int(r.zone[1])), reverse=True)

    # when
    page = await metering.client.list_readings("100005", offset=3, limit=4)

    # then
    assert page == ReadingsPage(
        total=len(history),
        offset=3,
        limit=4,
        items=tuple(
            Reading(
                r.taken_on, zones[r.zone], r.value, ReadingSource.CUSTOMER, ReadingStatus.ACCEPTED
            )
            for r in newest[3:7]
        ),
    )
    assert page.has_more


async def test_list_readings_between_dates_shows_every_source(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    history = demo_readings(emulators, "100003")

    # when
    page = await metering.client.list_readings(
        "100003", from_=history[0].taken_on, to=history[-1].taken_on, limit=100
    )

    # then
    assert page.total == len(history)
    assert not page.has_more
    assert page.items[0].source is ReadingSource.DISMANTLING
    assert page.items[-1].source is ReadingSource.CONTROL
    assert page.items[-1].source.locks_period
    assert {r.zone for r in page.items} == {TariffZone.SINGLE}


async def test_a_page_larger_than_metering_serves_is_cut(metering: Metering) -> None:
    # when
    page = await metering.client.list_readings("100005", limit=250)

    # then
    assert page.limit == 100
    assert len(page.items) == min(100, page.total)


async def test_iter_readings_walks_every_page(metering: Metering, emulators: EmulatorHost) -> None:
    # given
    history = demo_readings(emulators, "100001")

    # when
    readings = [r async for r in metering.client.iter_readings("100001", page_size=15)]

    # then
    assert len(readings) == len(history)
    assert sorted((r.date, r.value) for r in readings) == sorted(
        (r.taken_on, r.value) for r in history
    )
    assert calls(emulators) == {"ListReadings": -(-len(history) // 15)}


async def test_readings_of_an_unknown_meter_are_not_found(metering: Metering) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await metering.client.list_readings("999999")
    assert raised.value.code == "METER_NOT_FOUND"


# --- submitting ------------------------------------------------------------------------


async def test_submit_readings_returns_what_metering_accepted(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    day = last_demo_value(emulators, "100001", "T1")
    night = last_demo_value(emulators, "100001", "T2")
    before = datetime.now(UTC)

    # when
    submitted = await metering.client.submit_readings(
        "100001",
        "read-1",
        {TariffZone.NIGHT: night.value + Decimal("40.00"), TariffZone.DAY: day.value + 95},
    )

    # then
    registered = submitted.registered_at
    assert submitted == SubmittedReading(
        request_id="read-1",
        meter_id="100001",
        date=today(emulators),
        period=today(emulators).replace(day=1),
        replaced=False,
        registered_at=registered,
        zones=(
            SubmittedZone(TariffZone.DAY, day.value + 95, day.value, day.taken_on, Decimal(95)),
            SubmittedZone(
                TariffZone.NIGHT, night.value + 40, night.value, night.taken_on, Decimal(40)
            ),
        ),
    )
    assert registered.tzinfo is METERING_TZ
    assert before - timedelta(seconds=1) <= registered <= datetime.now(UTC)
    assert dict(submitted.values) == {
        TariffZone.DAY: day.value + 95,
        TariffZone.NIGHT: night.value + 40,
    }
    assert dict(submitted.consumption) == {TariffZone.DAY: 95, TariffZone.NIGHT: 40}
    meters = await metering.client.list_meters("7200000001")
    assert meters[0].last_reading(TariffZone.DAY) == ZoneReading(
        TariffZone.DAY, day.value + 95, today(emulators)
    )


async def test_a_repeated_submission_returns_the_first_answer(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    value = last_demo_value(emulators, "100002", "T1").value + 30
    first = await metering.client.submit_readings("100002", "once", {TariffZone.SINGLE: value})

    # when
    again = await metering.client.submit_readings("100002", "once", {TariffZone.SINGLE: value})

    # then
    assert again == first
    page = await metering.client.list_readings("100002", limit=3)
    assert [r.status for r in page.items[:2]] == [ReadingStatus.ACCEPTED, ReadingStatus.ACCEPTED]
    assert page.total == len(demo_readings(emulators, "100002")) + 1


async def test_a_later_submission_of_the_period_replaces_the_earlier(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    value = last_demo_value(emulators, "100002", "T1").value
    await metering.client.submit_readings("100002", "a", {TariffZone.SINGLE: value + 10})

    # when
    second = await metering.client.submit_readings("100002", "b", {TariffZone.SINGLE: value + 12})

    # then
    assert second.replaced is True
    page = await metering.client.list_readings("100002", limit=2)
    assert [(r.value, r.status) for r in page.items] == [
        (value + 12, ReadingStatus.ACCEPTED),
        (value + 10, ReadingStatus.REPLACED),
    ]


async def test_a_back_dated_submission_carries_its_date(
    metering: Metering, emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given: on the 3rd of next month, the reading taken on its 1st
    next_month = (today(emulators).replace(day=28) + timedelta(days=5)).replace(day=1)
    await admin.put(
        "/_admin/clock", json={"now": local_moment(next_month.replace(day=3), 9, 0).isoformat()}
    )
    value = last_demo_value(emulators, "100006", "T1").value + 250

    # when
    submitted = await metering.client.submit_readings(
        "100006", "dated", {TariffZone.SINGLE: value}, on=next_month
    )

    # then
    assert (submitted.date, submitted.period) == (next_month, next_month)


@pytest.mark.parametrize(
    ("meter_id", "values", "reason", "zone"),
    [
        (
            "100002",
            {TariffZone.SINGLE: Decimal("100000")},
            RejectionReason.VALUE_OVER_CAPACITY,
            TariffZone.SINGLE,
        ),
        (
            "100002",
            {TariffZone.SINGLE: Decimal("1")},
            RejectionReason.VALUE_BELOW_PREVIOUS,
            TariffZone.SINGLE,
        ),
        (
            "100002",
            {TariffZone.SINGLE: Decimal("7800.25")},
            RejectionReason.INVALID_VALUE,
            TariffZone.SINGLE,
        ),
        (
            "100002",
            {TariffZone.SINGLE: Decimal("-1")},
            RejectionReason.INVALID_VALUE,
            TariffZone.SINGLE,
        ),
        (
            "100002",
            {TariffZone.DAY: Decimal(1), TariffZone.NIGHT: Decimal(1)},
            RejectionReason.WRONG_ZONES,
            None,
        ),
        ("100001", {TariffZone.SINGLE: Decimal("99999")}, RejectionReason.WRONG_ZONES, None),
        (
            "100005",
            {
                TariffZone.PEAK: Decimal(99999),
                TariffZone.NIGHT: Decimal(99999),
                TariffZone.SEMI_PEAK: Decimal(1),
            },
            RejectionReason.VALUE_BELOW_PREVIOUS,
            TariffZone.SEMI_PEAK,
        ),
        ("100003", {TariffZone.SINGLE: Decimal("99999")}, RejectionReason.METER_CLOSED, None),
    ],
    ids=[
        "over-capacity",
        "below-previous",
        "two-decimals",
        "negative",
        "two-zones-for-one",
        "one-zone-for-two",
        "semi-peak-below-previous",
        "closed-meter",
    ],
)
async def test_refused_values_raise_reading_rejected_with_the_reason(
    metering: Metering,
    meter_id: str,
    values: dict[TariffZone, Decimal],
    reason: RejectionReason,
    zone: TariffZone | None,
) -> None:
    # when / then
    with pytest.raises(ReadingRejected) as raised:
        await metering.client.submit_readings(meter_id, "refused", values)
    assert raised.value.reason is reason
    assert raised.value.code == reason.value
    assert raised.value.zone is zone
    assert raised.value.message
    assert metering.requests == 1


async def test_a_future_date_is_rejected(metering: Metering, emulators: EmulatorHost) -> None:
    # when / then
    with pytest.raises(ReadingRejected) as raised:
        await metering.client.submit_readings(
            "100002",
            "future",
            {TariffZone.SINGLE: Decimal(99999)},
            on=today(emulators) + timedelta(days=1),
        )
    assert raised.value.reason is RejectionReason.DATE_IN_FUTURE


async def test_a_period_locked_by_a_control_reading_raises_period_locked(
    metering: Metering, emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given
    answer = await admin.post("/_admin/meters/100004/inspections", json={"source": "control"})
    assert answer.status_code == 200

    # when / then
    with pytest.raises(PeriodLocked) as raised:
        await metering.client.submit_readings("100004", "late", {TariffZone.SINGLE: Decimal(999)})
    assert isinstance(raised.value, UpstreamRejected)
    assert raised.value.code == "PERIOD_LOCKED"
    assert raised.value.period == today(emulators).replace(day=1)
    assert raised.value.locked_by is ReadingSource.CONTROL
    assert raised.value.locked_on == today(emulators)
    assert "контрольное снятие" in raised.value.message
    assert metering.requests == 1


async def test_the_demo_control_reading_month_is_locked(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    control = demo_readings(emulators, "100006")[0]

    # when / then
    with pytest.raises(PeriodLocked) as raised:
        await metering.client.submit_readings(
            "100006", "old", {TariffZone.SINGLE: Decimal(1)}, on=control.taken_on
        )
    assert raised.value.locked_on == control.taken_on


async def test_a_reused_request_id_is_a_plain_rejection(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    value = last_demo_value(emulators, "100002", "T1").value
    await metering.client.submit_readings("100002", "k", {TariffZone.SINGLE: value + 1})

    # when / then
    with pytest.raises(UpstreamRejected) as raised:
        await metering.client.submit_readings("100002", "k", {TariffZone.SINGLE: value + 2})
    assert type(raised.value) is UpstreamRejected
    assert raised.value.code == "REQUEST_ID_REUSED"


async def test_a_submission_for_an_unknown_meter_is_not_found(metering: Metering) -> None:
    # when / then
    with pytest.raises(NotFound) as raised:
        await metering.client.submit_readings("999999", "x", {TariffZone.SINGLE: Decimal(1)})
    assert raised.value.code == "METER_NOT_FOUND"


@pytest.mark.parametrize(
    "values",
    [
        {},
        {TariffZone.DAY: Decimal(1)},
        {TariffZone.SINGLE: Decimal(1), TariffZone.NIGHT: Decimal(1)},
        {TariffZone.DAY: Decimal(1), TariffZone.PEAK: Decimal(1)},
    ],
    ids=["none", "day-alone", "single-and-night", "day-and-peak"],
)
async def test_values_outside_every_zone_scheme_are_a_programming_error(
    metering: Metering, values: dict[TariffZone, Decimal]
) -> None:
    # when / then
    with pytest.raises(ValueError, match="scheme"):
        await metering.client.submit_readings("100001", "bad", values)
    assert metering.requests == 0


async def test_ping_reaches_metering(metering: Metering, emulators: EmulatorHost) -> None:
    # when
    await metering.client.ping()

    # then
    assert calls(emulators) == {"GetStatus": 1}


# --- faults ----------------------------------------------------------------------------


async def test_maintenance_is_unavailability_and_reads_are_retried(
    metering: Metering, emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given
    await admin.put("/_admin/maintenance", json={"window": "02:00-02:10"})
    await admin.put(
        "/_admin/clock", json={"now": local_moment(seeded_on(emulators), 2, 5).isoformat()}
    )

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await metering.client.list_meters("7200000001")
    assert type(raised.value) is UpstreamUnavailable
    assert "HTTP 503" in raised.value.message
    assert metering.requests == 3


async def test_a_submission_during_maintenance_is_unavailable_after_three_tries(
    metering: Metering, emulators: EmulatorHost, admin: httpx.AsyncClient
) -> None:
    # given
    await admin.put("/_admin/maintenance", json={"window": "02:00-02:10"})
    await admin.put(
        "/_admin/clock", json={"now": local_moment(seeded_on(emulators), 2, 5).isoformat()}
    )

    # when / then
    with pytest.raises(UpstreamUnavailable):
        await metering.client.submit_readings("100002", "night", {TariffZone.SINGLE: Decimal(9)})
    assert metering.requests == 3
    assert calls(emulators) == {"SubmitReadings": 3}
    page = await admin.get("/api/v1/meters/100002/readings", params={"limit": 1})
    assert page.status_code == 503


async def test_ping_is_not_retried(metering: Metering, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable):
        await metering.client.ping()
    assert metering.requests == 1


async def test_an_outage_is_unavailable(metering: Metering, emulators: EmulatorHost) -> None:
    # given
    faults(emulators, outage=True)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await metering.client.list_readings("100001")
    assert type(raised.value) is UpstreamUnavailable
    assert metering.requests == 3
    assert calls(emulators) == {}


async def test_an_internal_error_is_unavailable(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, error_rate=1)

    # when / then
    with pytest.raises(UpstreamUnavailable) as raised:
        await metering.client.list_meters("7200000001")
    assert "HTTP 500" in raised.value.message


async def test_latency_beyond_the_timeout_is_a_timeout_after_three_tries(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, latency_ms=TIMEOUT * 1000 + 200)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await metering.client.list_meters("7200000001")
    assert metering.requests == 3


async def test_a_slow_body_beyond_the_read_timeout_is_a_timeout(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given
    faults(emulators, slow_body_ms=TIMEOUT * 1000 * 20)

    # when / then
    with pytest.raises(UpstreamTimeout):
        await metering.client.ping()


@pytest.mark.parametrize("operation", ["meters", "readings", "submit", "ping"])
async def test_a_malformed_answer_is_malformed(
    metering: Metering, emulators: EmulatorHost, operation: str
) -> None:
    # given
    faults(emulators, malformed=True)
    client = metering.client
    calls_ = {
        "meters": lambda: client.list_meters("7200000001"),
        "readings": lambda: client.list_readings("100001"),
        "submit": lambda: client.submit_readings("100002", "m", {TariffZone.SINGLE: Decimal(9)}),
        "ping": client.ping,
    }

    # when / then
    with pytest.raises(UpstreamMalformed):
        await calls_[operation]()


async def test_a_transient_error_on_submit_is_retried_into_one_submission(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given: metering fails the first try only
    runtime = emulators.runtimes["metering"]
    seed = next(s for s in range(1000) if _fails_then_succeeds(s, rate=0.5))
    runtime.rng.seed(seed)
    faults(emulators, error_rate=0.5)
    value = last_demo_value(emulators, "100002", "T1").value + 5

    # when
    submitted = await metering.client.submit_readings("100002", "blip", {TariffZone.SINGLE: value})

    # then
    assert submitted.replaced is False
    assert metering.requests == 2
    assert metering.client.resilience.retries == 1
    assert calls(emulators) == {"SubmitReadings": 1}


def _fails_then_succeeds(seed: int, *, rate: float) -> bool:
    draws = random.Random(seed)
    return draws.random() < rate <= draws.random()


async def test_a_submission_that_timed_out_and_is_repeated_is_stored_once(
    metering: Metering, emulators: EmulatorHost
) -> None:
    # given: every try times out at the gateway, but metering serves them all late
    faults(emulators, latency_ms=TIMEOUT * 1000 + 100)
    value = last_demo_value(emulators, "100002", "T1").value + 5
    with pytest.raises(UpstreamTimeout):
        await metering.client.submit_readings("100002", "late", {TariffZone.SINGLE: value})
    await eventually(lambda: calls(emulators).get("SubmitReadings") == 3)
    faults(emulators, latency_ms=0)

    # when
    submitted = await metering.client.submit_readings("100002", "late", {TariffZone.SINGLE: value})

    # then
    assert submitted.replaced is False
    page = await metering.client.list_readings("100002", limit=2)
    assert [r.status for r in page.items] == [ReadingStatus.ACCEPTED, ReadingStatus.ACCEPTED]
    assert page.items[0].value == value
    assert page.items[1].value != value


async def test_the_breaker_opens_and_spares_metering(emulators: EmulatorHost) -> None:
    # given
    metering = adapter_for(emulators, breaker_threshold=3)
    async with metering.http:
        faults(emulators, outage=True)
        with pytest.raises(UpstreamUnavailable):
            await metering.client.list_meters("7200000001")

        # when / then
        with pytest.raises(CircuitOpen):
            await metering.client.list_meters("7200000001")
        assert metering.requests == 3


async def test_business_refusals_do_not_open_the_breaker(emulators: EmulatorHost) -> None:
    # given
    metering = adapter_for(emulators, breaker_threshold=2)
    async with metering.http:
        for _ in range(3):
            with pytest.raises(NotFound):
                await metering.client.list_meters("7299999999")

        # when
        meters = await metering.client.list_meters("7200000002")

    # then
    assert [m.id for m in meters] == ["100004"]


# --- parsing quirks --------------------------------------------------------------------


def raw_meter(**changes: Any) -> dict[str, Any]:
    """A meter as metering writes it."""
    meter: dict[str, Any] = {
        "id": 100001,
        "serial": "34012587",
        "model": "Меркурий 200.02",
        "zones": ["T1", "T2"],
        "digits": 6,
        "status": "Действует",
        "installed": "12.04.2019",
        "closed": None,
        "verification_due": "12.04.2035",
        "last_readings": {
            "T2": {"value": "21553,2", "date": "22.10.2026"},
            "T1": {"value": "46402,3", "date": "22.10.2026"},
        },
        "some_new_field": True,
    }
    meter.update(changes)
    return meter


def test_parsing_absorbs_comma_values_dotted_dates_and_zone_codes() -> None:
    # when
    (meter,) = parse_meters({"account": "7200000001", "meters": [raw_meter()]})

    # then
    assert meter.last_readings == (
        ZoneReading(TariffZone.DAY, Decimal("46402.3"), date(2026, 10, 22)),
        ZoneReading(TariffZone.NIGHT, Decimal("21553.2"), date(2026, 10, 22)),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "100001"},
        {"zones": ["T1", "T3"]},
        {"zones": 2},
        {"status": "Списан"},
        {"installed": "2019-04-12"},
        {"last_readings": {"T1": {"value": "46402.3", "date": "22.10.2026"}}},
        {"last_readings": {"T3": {"value": "1,0", "date": "22.10.2026"}}},
        {"last_readings": []},
        {"digits": "6"},
    ],
    ids=[
        "id-text",
        "zone-gap",
        "zone-count",
        "status",
        "iso-date",
        "dot-value",
        "foreign-zone",
        "list",
        "digits-text",
    ],
)
def test_a_meter_out_of_contract_is_malformed(changes: dict[str, Any]) -> None:
    # when / then
    with pytest.raises(UpstreamMalformed):
        parse_meters({"meters": [raw_meter(**changes)]})


def raw_page(**item_changes: Any) -> dict[str, Any]:
    """A readings page as metering writes it."""
    item = {
        "date": "22.10.2026",
        "zone": "T3",
        "value": "18103,4",
        "source": "Контрольное снятие",
        "status": "Принято",
    }
    item.update(item_changes)
    return {
        "meter_id": 100005,
        "zones": ["T1", "T2", "T3"],
        "total": 78,
        "offset": 0,
        "limit": 1,
        "items": [item],
    }


def test_a_readings_page_is_parsed() -> None:
    # when
    page = parse_readings_page(raw_page())

    # then
    assert page == ReadingsPage(
        total=78,
        offset=0,
        limit=1,
        items=(
            Reading(
                date(2026, 10, 22),
                TariffZone.SEMI_PEAK,
                Decimal("18103.4"),
                ReadingSource.CONTROL,
                ReadingStatus.ACCEPTED,
            ),
        ),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"source": "Оператор"},
        {"status": "Принят"},
        {"zone": "T4"},
        {"value": "1 000,0"},
        {"date": "22.10.26"},
    ],
    ids=["source", "status", "zone", "blank-in-value", "short-year"],
)
def test_a_reading_out_of_contract_is_malformed(changes: dict[str, Any]) -> None:
    # when / then
    with pytest.raises(UpstreamMalformed):
        parse_readings_page(raw_page(**changes))


def raw_submission(**changes: Any) -> dict[str, Any]:
    """A submission answer as metering writes it."""
    body: dict[str, Any] = {
        "result": "ok",
        "request_id": "r-1",
        "meter_id": 100002,
        "date": "03.11.2026",
        "period": "11.2026",
        "status": "Принято",
        "replaced": True,
        "registered_at": "03.11.2026 10:15:42",
        "readings": [
            {
                "zone": "T1",
                "value": "7837,0",
                "previous": None,
                "previous_date": None,
                "consumption": None,
            }
        ],
    }
    body.update(changes)
    return body


def test_a_submission_answer_is_parsed_with_local_time() -> None:
    # when
    submitted = parse_submission(raw_submission())

    # then
    assert submitted.registered_at == datetime(2026, 11, 3, 5, 15, 42, tzinfo=UTC)
    assert submitted.period == date(2026, 11, 1)
    assert submitted.zones == (
        SubmittedZone(TariffZone.SINGLE, Decimal("7837.0"), None, None, None),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"registered_at": "2026-11-03T10:15:42"},
        {"period": "2026-11"},
        {"replaced": "нет"},
        {"status": "Заменено"},
        {
            "readings": [
                {
                    "zone": "T2",
                    "value": "1,0",
                    "previous": None,
                    "previous_date": None,
                    "consumption": None,
                }
            ]
        },
    ],
    ids=["iso-time", "iso-period", "replaced-text", "not-accepted", "zone-gap"],
)
def test_a_submission_answer_out_of_contract_is_malformed(changes: dict[str, Any]) -> None:
    # when / then
    with pytest.raises(UpstreamMalformed):
        parse_submission(raw_submission(**changes))
