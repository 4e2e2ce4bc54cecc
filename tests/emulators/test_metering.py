"""The metering emulator over real sockets: its REST API, quirks, rules and knobs."""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators import data
from emulators.base import UTILITY_TZ
from emulators.config import EmulatorConfig
from emulators.host import EmulatorHost
from emulators.metering.maintenance import MaintenanceWindow
from emulators.metering.openapi import OPENAPI

DATE = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
SOURCES = {"Абонент", "Контрольное снятие", "Демонтаж"}
TLS = ssl.create_default_context()
"""One TLS context for every test client (the emulators speak plain HTTP; building a
context per client would cost tens of milliseconds a test)."""

# --- helpers shared with tests/adapters/test_metering.py -------------------------------


def seeded_on(emulators: EmulatorHost) -> date:
    """The utility date the running emulator's demo data was built for."""
    rows = emulators.runtimes["metering"].db.query(
        "SELECT value FROM metering_meta WHERE key = 'seeded_on'"
    )
    return date.fromisoformat(rows[0]["value"])


def demo(emulators: EmulatorHost) -> data.DemoData:
    """The demo data the emulator serves (rebuilt from ``emulators/data.py``)."""
    return _build(seeded_on(emulators))


@functools.lru_cache(maxsize=4)
def _build(today: date) -> data.DemoData:
    return data.build(today)


def demo_readings(emulators: EmulatorHost, meter_id: str) -> list[data.Reading]:
    """One meter's demo readings, oldest first, zones in order."""
    return [r for r in demo(emulators).readings if r.meter_id == meter_id]


def last_demo_value(emulators: EmulatorHost, meter_id: str, zone: str) -> data.Reading:
    """The last demo reading of one zone."""
    return [r for r in demo_readings(emulators, meter_id) if r.zone == zone][-1]


def comma(value: Decimal) -> str:
    """A value as metering writes it."""
    return str(value.quantize(Decimal("0.1"))).replace(".", ",")


def dotted(day: date) -> str:
    """A date as metering writes it."""
    return f"{day:%d.%m.%Y}"


def local_moment(day: date, hour: int, minute: int) -> datetime:
    """A moment of the utility's local time."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTILITY_TZ)


async def freeze(admin: httpx.AsyncClient, moment: datetime) -> None:
    """Stop the emulator clock at ``moment``."""
    answer = await admin.put("/_admin/clock", json={"now": moment.isoformat()})
    assert answer.status_code == 200, answer.text


def root_url(emulators: EmulatorHost) -> str:
    """The emulator's origin (admin API)."""
    return emulators.config.url(emulators.config.metering_port)


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture
async def api(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of metering's ``/api/v1``."""
    async with httpx.AsyncClient(
        base_url=emulators.config.metering_url, timeout=5, verify=TLS
    ) as client:
        yield client


@pytest.fixture
async def admin(emulators: EmulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the emulator's admin API."""
    async with httpx.AsyncClient(base_url=root_url(emulators), timeout=5, verify=TLS) as client:
        yield client


async def submit(
    api: httpx.AsyncClient, meter_id: str, values: dict[str, Any], key: str = "req-1", **extra: Any
) -> httpx.Response:
    """POST a submission."""
    return await api.post(
        f"/meters/{meter_id}/readings", json={"request_id": key, "values": values, **extra}
    )


def assert_error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is metering's error shape with this status and code; returns the body."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["result"] == "error"
    assert body["code"] == code
    assert re.search("[а-яё]", body["message"], re.IGNORECASE), body["message"]
    return body


# --- meters ----------------------------------------------------------------------------


async def test_meters_of_an_account_come_in_the_legacy_shape(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    t1 = last_demo_value(emulators, "100001", "T1")
    t2 = last_demo_value(emulators, "100001", "T2")

    # when
    answer = await api.get("/accounts/7200000001/meters")

    # then
    assert answer.status_code == 200
    body = answer.json()
    assert body["account"] == "7200000001"
    assert [m["id"] for m in body["meters"]] == [100001, 100002, 100003]
    assert body["meters"][0] == {
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
            "T1": {"value": comma(t1.value), "date": dotted(t1.taken_on)},
            "T2": {"value": comma(t2.value), "date": dotted(t2.taken_on)},
        },
    }


async def test_a_closed_meter_is_listed_as_closed_with_its_dismantling_reading(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    closed = next(m for m in demo(emulators).meters if m.id == "100003")
    assert closed.closed is not None
    final = last_demo_value(emulators, "100003", "T1")

    # when
    meters = (await api.get("/accounts/7200000001/meters")).json()["meters"]

    # then
    meter = meters[2]
    assert meter["status"] == "Закрыт"
    assert meter["closed"] == dotted(closed.closed)
    assert meter["serial"] == "00872311"
    assert final.source == "Демонтаж"
    assert meter["last_readings"] == {
        "T1": {"value": comma(final.value), "date": dotted(final.taken_on)}
    }


@pytest.mark.parametrize(
    ("account", "meters"),
    [
        ("7200000002", [(100004, ["T1"], 5)]),
        ("7200000003", [(100005, ["T1", "T2", "T3"], 6)]),
        ("7200000004", [(100006, ["T1"], 6)]),
    ],
)
async def test_every_demo_account_has_its_meters(
    api: httpx.AsyncClient, account: str, meters: list[tuple[int, list[str], int]]
) -> None:
    # when
    body = (await api.get(f"/accounts/{account}/meters")).json()

    # then
    assert [(m["id"], m["zones"], m["digits"]) for m in body["meters"]] == meters
    assert all(set(m["last_readings"]) == set(m["zones"]) for m in body["meters"])


async def test_a_bulk_read_gives_the_meters_of_several_accounts_in_one_call(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    answer = await api.get(
        "/meters", params=[("account", "7200000001"), ("account", "7200000004"), ("account", "1")]
    )
    single = await api.get("/accounts/7200000004/meters")
    empty = await api.get("/meters")

    # then
    assert answer.status_code == 200
    accounts = answer.json()["accounts"]
    assert [a["account"] for a in accounts] == ["7200000001", "7200000004"]
    assert [m["id"] for m in accounts[0]["meters"]] == [100001, 100002, 100003]
    assert accounts[1]["meters"] == single.json()["meters"]
    assert empty.status_code == 400
    assert emulators.runtimes["metering"].calls.snapshot()["ListMetersBulk"] == 2


async def test_an_unknown_account_is_404_in_russian(api: httpx.AsyncClient) -> None:
    # when
    answer = await api.get("/accounts/7299999999/meters")

    # then
    body = assert_error(answer, 404, "ACCOUNT_NOT_FOUND")
    assert body["message"] == "Лицевой счёт 7299999999 не найден"


# --- readings --------------------------------------------------------------------------


async def test_readings_are_paged_newest_first_with_comma_values(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    history = demo_readings(emulators, "100001")
    newest_first = sorted(history, key=lambda r: (r.taken_on, -int(r.zone[1])), reverse=True)

    # when
    answer = await api.get("/meters/100001/readings", params={"offset": 2, "limit": 3})

    # then
    assert answer.status_code == 200
    body = answer.json()
    assert body["meter_id"] == 100001
    assert body["zones"] == ["T1", "T2"]
    assert (body["total"], body["offset"], body["limit"]) == (len(history), 2, 3)
    assert body["items"] == [
        {
            "date": dotted(r.taken_on),
            "zone": r.zone,
            "value": comma(r.value),
            "source": r.source,
            "status": "Принято",
        }
        for r in newest_first[2:5]
    ]


async def test_readings_default_to_pages_of_twenty(api: httpx.AsyncClient) -> None:
    # when
    body = (await api.get("/meters/100005/readings")).json()

    # then
    assert (body["offset"], body["limit"], len(body["items"])) == (0, 20, 20)
    assert body["total"] > 20


async def test_a_limit_above_one_hundred_is_quietly_cut(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    body = (await api.get("/meters/100005/readings", params={"limit": 500})).json()

    # then
    assert body["limit"] == 100
    assert len(body["items"]) == min(100, len(demo_readings(emulators, "100005")))


async def test_readings_are_filtered_by_dates_inclusively(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    history = demo_readings(emulators, "100002")
    since, until = history[3].taken_on, history[6].taken_on

    # when
    body = (
        await api.get(
            "/meters/100002/readings", params={"from": dotted(since), "to": dotted(until)}
        )
    ).json()

    # then
    assert body["total"] == 4
    assert [item["date"] for item in body["items"]] == [
        dotted(r.taken_on) for r in reversed(history[3:7])
    ]


async def test_the_history_shows_control_readings_and_the_dismantling(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # when
    body = (await api.get("/meters/100003/readings", params={"limit": 100})).json()

    # then
    sources = [item["source"] for item in body["items"]]
    assert sources[0] == "Демонтаж"
    assert sources[-1] == "Контрольное снятие"
    assert set(sources) == SOURCES
    assert body["total"] == len(demo_readings(emulators, "100003"))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"from": "2024-01-01"}, "from"),
        ({"to": "31.02.2024"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
async def test_bad_paging_parameters_are_400(
    api: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    # when
    answer = await api.get("/meters/100001/readings", params=params)

    # then
    assert assert_error(answer, 400, "INVALID_PARAMETER")["parameter"] == parameter


async def test_readings_of_an_unknown_meter_are_404(api: httpx.AsyncClient) -> None:
    # when / then
    assert_error(await api.get("/meters/999999/readings"), 404, "METER_NOT_FOUND")


# --- submitting ------------------------------------------------------------------------


async def test_a_submission_is_accepted_with_the_consumption_it_implies(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    t1 = last_demo_value(emulators, "100001", "T1")
    t2 = last_demo_value(emulators, "100001", "T2")
    today = emulators.runtimes["metering"].clock.today()

    # when
    answer = await submit(
        api, "100001", {"T1": comma(t1.value + Decimal("120.5")), "T2": comma(t2.value + 60)}
    )

    # then
    assert answer.status_code == 201, answer.text
    body = answer.json()
    registered = body.pop("registered_at")
    assert re.match(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$", registered)
    assert body == {
        "result": "ok",
        "request_id": "req-1",
        "meter_id": 100001,
        "date": dotted(today),
        "period": f"{today:%m.%Y}",
        "status": "Принято",
        "replaced": False,
        "readings": [
            {
                "zone": "T1",
                "value": comma(t1.value + Decimal("120.5")),
                "previous": comma(t1.value),
                "previous_date": dotted(t1.taken_on),
                "consumption": "120,5",
            },
            {
                "zone": "T2",
                "value": comma(t2.value + 60),
                "previous": comma(t2.value),
                "previous_date": dotted(t2.taken_on),
                "consumption": "60,0",
            },
        ],
    }


async def test_an_accepted_submission_becomes_the_last_reading_and_history(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    previous = last_demo_value(emulators, "100002", "T1")
    today = emulators.runtimes["metering"].clock.today()
    await submit(api, "100002", {"T1": comma(previous.value + 50)})

    # when
    meters = (await api.get("/accounts/7200000001/meters")).json()["meters"]
    history = (await api.get("/meters/100002/readings", params={"limit": 1})).json()

    # then
    assert meters[1]["last_readings"] == {
        "T1": {"value": comma(previous.value + 50), "date": dotted(today)}
    }
    assert history["items"] == [
        {
            "date": dotted(today),
            "zone": "T1",
            "value": comma(previous.value + 50),
            "source": "Абонент",
            "status": "Принято",
        }
    ]
    assert history["total"] == len(demo_readings(emulators, "100002")) + 1


async def test_a_repeated_request_id_returns_the_first_answer_and_stores_once(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    value = comma(last_demo_value(emulators, "100006", "T1").value + 10)
    first = await submit(api, "100006", {"T1": value}, key="once")

    # when
    again = await submit(api, "100006", {"T1": value}, key="once")

    # then
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.json()["replaced"] is False
    history = (await api.get("/meters/100006/readings")).json()
    assert history["total"] == len(demo_readings(emulators, "100006")) + 1
    assert emulators.runtimes["metering"].calls.snapshot() == {
        "SubmitReadings": 2,
        "ListReadings": 1,
    }


async def test_a_repeated_refusal_is_answered_the_same(api: httpx.AsyncClient) -> None:
    # given
    first = await submit(api, "100002", {"T1": "1,0"}, key="low")

    # when
    again = await submit(api, "100002", {"T1": "1,0"}, key="low")

    # then
    assert_error(first, 422, "VALUE_BELOW_PREVIOUS")
    assert (again.status_code, again.json()) == (422, first.json())


async def test_a_request_id_reused_for_another_body_is_refused(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    value = last_demo_value(emulators, "100006", "T1").value
    await submit(api, "100006", {"T1": comma(value + 10)}, key="k-7")

    # when
    answer = await submit(api, "100006", {"T1": comma(value + 11)}, key="k-7")
    on_another_meter = await submit(api, "100002", {"T1": comma(value + 10)}, key="k-7")

    # then
    body = assert_error(answer, 422, "REQUEST_ID_REUSED")
    assert "k-7" in body["message"]
    assert_error(on_another_meter, 422, "REQUEST_ID_REUSED")


async def test_a_later_submission_of_the_period_replaces_the_earlier_one(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    previous = last_demo_value(emulators, "100002", "T1").value
    await submit(api, "100002", {"T1": comma(previous + 40)}, key="first")

    # when
    answer = await submit(api, "100002", {"T1": comma(previous + 45)}, key="second")

    # then
    assert answer.status_code == 201
    body = answer.json()
    assert body["replaced"] is True
    assert body["readings"][0]["previous"] == comma(previous)
    assert body["readings"][0]["consumption"] == "45,0"
    items = (await api.get("/meters/100002/readings", params={"limit": 3})).json()["items"]
    assert [(i["value"], i["status"]) for i in items[:2]] == [
        (comma(previous + 45), "Принято"),
        (comma(previous + 40), "Заменено"),
    ]
    meters = (await api.get("/accounts/7200000001/meters")).json()["meters"]
    assert meters[1]["last_readings"]["T1"]["value"] == comma(previous + 45)


@pytest.mark.parametrize(
    ("meter_id", "values", "code", "zone"),
    [
        ("100001", {"T1": "99999,0"}, "WRONG_ZONES", None),
        ("100001", {"T1": "99999,0", "T2": "99999,0", "T3": "1,0"}, "WRONG_ZONES", None),
        ("100002", {"T1": "7790.5"}, "INVALID_VALUE", "T1"),
        ("100002", {"T1": "7790,55"}, "INVALID_VALUE", "T1"),
        ("100002", {"T1": "-5,0"}, "INVALID_VALUE", "T1"),
        ("100002", {"T1": 7790}, "INVALID_VALUE", "T1"),
        ("100002", {"T1": "100000,0"}, "VALUE_OVER_CAPACITY", "T1"),
        (
            "100005",
            {"T1": "99999,0", "T2": "99999,0", "T3": "1000000,0"},
            "VALUE_OVER_CAPACITY",
            "T3",
        ),
        ("100005", {"T1": "99999,0", "T2": "1,0", "T3": "99999,0"}, "VALUE_BELOW_PREVIOUS", "T2"),
    ],
    ids=[
        "missing-zone",
        "extra-zone",
        "dot",
        "two-decimals",
        "negative",
        "number",
        "over-capacity",
        "over-capacity-t3",
        "below-previous",
    ],
)
async def test_implausible_values_are_refused_with_422(
    api: httpx.AsyncClient, meter_id: str, values: dict[str, Any], code: str, zone: str | None
) -> None:
    # when
    answer = await submit(api, meter_id, values)

    # then
    body = assert_error(answer, 422, code)
    assert body.get("zone") == zone


async def test_a_value_below_the_previous_one_names_it_in_russian(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    previous = last_demo_value(emulators, "100002", "T1")

    # when
    answer = await submit(api, "100002", {"T1": "10,0"})

    # then
    assert assert_error(answer, 422, "VALUE_BELOW_PREVIOUS")["message"] == (
        f"Показание по зоне T1 (10,0) меньше предыдущего ({comma(previous.value)} от "
        f"{dotted(previous.taken_on)})"
    )


async def test_a_closed_meter_takes_no_readings(api: httpx.AsyncClient) -> None:
    # when
    answer = await submit(api, "100003", {"T1": "99999,0"})

    # then
    body = assert_error(answer, 422, "METER_CLOSED")
    assert body["message"].startswith("Прибор учёта № 00872311 закрыт")


@pytest.mark.parametrize(
    ("day", "code"),
    [("2026-01-01", "INVALID_DATE"), ("31.13.2026", "INVALID_DATE"), (None, "DATE_IN_FUTURE")],
    ids=["iso", "no-such-day", "tomorrow"],
)
async def test_a_bad_or_future_date_is_refused(
    api: httpx.AsyncClient, emulators: EmulatorHost, day: str | None, code: str
) -> None:
    # given
    tomorrow = emulators.runtimes["metering"].clock.today() + timedelta(days=1)

    # when
    answer = await submit(api, "100002", {"T1": "99999,0"}, date=day or dotted(tomorrow))

    # then
    assert_error(answer, 422, code)


async def test_a_period_older_than_the_last_reading_is_closed(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: a month in the middle of the history
    old = demo_readings(emulators, "100002")[5].taken_on

    # when
    answer = await submit(api, "100002", {"T1": "99999,0"}, date=dotted(old))

    # then
    assert assert_error(answer, 422, "PERIOD_CLOSED")["period"] == f"{old:%m.%Y}"


async def test_the_period_of_the_demo_control_reading_is_locked(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: data.py starts every history with a control reading
    control = demo_readings(emulators, "100002")[0]
    assert control.source == "Контрольное снятие"

    # when
    answer = await submit(api, "100002", {"T1": "99999,0"}, date=dotted(control.taken_on))

    # then
    body = assert_error(answer, 409, "PERIOD_LOCKED")
    assert body["period"] == f"{control.taken_on:%m.%Y}"
    assert body["locked_by"] == "Контрольное снятие"
    assert body["locked_on"] == dotted(control.taken_on)
    assert "контрольное снятие" in body["message"]


async def test_a_control_reading_this_month_locks_the_current_period(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    today = emulators.runtimes["metering"].clock.today()
    value = comma(last_demo_value(emulators, "100004", "T1").value + 100)
    accepted = await submit(api, "100004", {"T1": value}, key="before-inspection")
    inspected = await admin.post("/_admin/meters/100004/inspections", json={"source": "control"})
    assert inspected.status_code == 200, inspected.text

    # when
    answer = await submit(api, "100004", {"T1": value}, key="after-inspection")

    # then
    assert accepted.status_code == 201
    body = assert_error(answer, 409, "PERIOD_LOCKED")
    assert (body["locked_by"], body["locked_on"]) == ("Контрольное снятие", dotted(today))
    last = inspected.json()["last_readings"]["T1"]
    assert last == {"value": value, "date": dotted(today)}


async def test_a_dismantling_closes_the_meter(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    today = emulators.runtimes["metering"].clock.today()
    await admin.post("/_admin/meters/100006/inspections", json={"source": "dismantling"})

    # when
    answer = await submit(api, "100006", {"T1": "99999,0"})

    # then
    assert_error(answer, 422, "METER_CLOSED")
    meter = (await api.get("/accounts/7200000004/meters")).json()["meters"][0]
    assert (meter["status"], meter["closed"]) == ("Закрыт", dotted(today))


async def test_a_roll_over_past_the_digit_capacity_is_accepted(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given: meter 100004 (5 digits) near its top this month
    today = emulators.runtimes["metering"].clock.today()
    high = await submit(api, "100004", {"T1": "99950,0"}, key="top")
    assert high.status_code == 201, high.text
    next_month = data.add_months(today, 1).replace(day=5)
    await freeze(admin, local_moment(next_month, 12, 0))

    # when
    answer = await submit(api, "100004", {"T1": "120,4"}, key="rolled")

    # then
    assert answer.status_code == 201, answer.text
    reading = answer.json()["readings"][0]
    assert (reading["previous"], reading["consumption"]) == ("99950,0", "170,4")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "JSON"),
        (b'["T1"]', "объектом"),
        (b'{"values": {"T1": "1,0"}}', "request_id"),
        (b'{"request_id": "", "values": {"T1": "1,0"}}', "request_id"),
        (b'{"request_id": "r", "values": {}}', "values"),
    ],
    ids=["not-json", "array", "no-request-id", "empty-request-id", "no-values"],
)
async def test_a_malformed_submission_is_400(
    api: httpx.AsyncClient, body: bytes, message: str
) -> None:
    # when
    answer = await api.post(
        "/meters/100001/readings", content=body, headers={"Content-Type": "application/json"}
    )

    # then
    assert message in assert_error(answer, 400, "INVALID_REQUEST")["message"]


async def test_a_submission_for_an_unknown_meter_is_404(api: httpx.AsyncClient) -> None:
    # when / then
    assert_error(await submit(api, "999999", {"T1": "1,0"}), 404, "METER_NOT_FOUND")


# --- maintenance -----------------------------------------------------------------------


async def test_the_api_answers_503_during_the_maintenance_window(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await admin.put("/_admin/maintenance", json={"window": "02:00-02:10"})
    await freeze(admin, local_moment(seeded_on(emulators), 2, 4))

    # when
    answers = [
        await api.get("/status"),
        await api.get("/accounts/7200000001/meters"),
        await api.get("/meters/100001/readings"),
        await submit(api, "100001", {"T1": "1,0", "T2": "1,0"}),
    ]

    # then
    for answer in answers:
        body = assert_error(answer, 503, "MAINTENANCE")
        assert body["message"] == (
            "Регламентные работы с 02:00 до 02:10 (время местное). Повторите запрос позже"
        )
        assert answer.headers["retry-after"] == "360"
    assert (await api.get("/openapi.json")).status_code == 200
    assert emulators.runtimes["metering"].calls.snapshot()["SubmitReadings"] == 1


@pytest.mark.parametrize(
    ("window", "hour", "minute", "open_"),
    [
        ("02:00-02:10", 1, 59, True),
        ("02:00-02:10", 2, 10, True),
        ("23:50-00:20", 23, 55, False),
        ("23:50-00:20", 0, 5, False),
        ("23:50-00:20", 0, 20, True),
        ("", 2, 5, True),
    ],
)
async def test_the_window_is_read_in_local_time(
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    emulators: EmulatorHost,
    window: str,
    hour: int,
    minute: int,
    open_: bool,
) -> None:
    # given
    await admin.put("/_admin/maintenance", json={"window": window})
    await freeze(admin, local_moment(seeded_on(emulators), hour, minute))

    # when
    answer = await api.get("/status")

    # then
    assert answer.status_code == (200 if open_ else 503)


async def test_the_configured_window_applies_from_the_start(tmp_path: Path) -> None:
    # given
    host = EmulatorHost(
        EmulatorConfig(metering_port=0, maintenance_window="02:00-02:10"), systems=("metering",)
    )
    await host.start()
    try:
        runtime = host.runtimes["metering"]
        runtime.clock.freeze(local_moment(runtime.clock.today(), 2, 9))
        async with httpx.AsyncClient(base_url=host.config.metering_url, verify=TLS) as client:
            # when
            answer = await client.get("/status")
            maintenance = await client.get(
                host.config.url(host.config.metering_port, "/_admin/maintenance")
            )
    finally:
        await host.stop()

    # then
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "60"
    assert maintenance.json() == {
        "window": "02:00-02:10",
        "configured": "02:00-02:10",
        "active": True,
    }


async def test_reset_puts_the_configured_window_back(
    admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await admin.put("/_admin/maintenance", json={"window": "02:00-02:10"})

    # when
    await admin.post("/_admin/reset")

    # then
    assert (await admin.get("/_admin/maintenance")).json()["window"] == ""


@pytest.mark.parametrize("spec", ["2:00-2:10", "02:00", "25:00-01:00", "02:00-02:00", "x"])
def test_a_bad_window_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="maintenance window"):
        MaintenanceWindow.parse(spec)


async def test_a_bad_window_is_refused_at_run_time(admin: httpx.AsyncClient) -> None:
    # when
    answer = await admin.put("/_admin/maintenance", json={"window": "soon"})

    # then
    assert answer.status_code == 400


# --- status, calls, faults, state ------------------------------------------------------


async def test_status_says_ok_with_the_local_time(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    await freeze(admin, local_moment(date(2026, 3, 9), 14, 30))

    # when
    body = (await api.get("/status")).json()

    # then
    assert body == {
        "status": "OK",
        "system": "АИС «Учёт показаний»",
        "version": "3.4.17",
        "time": "09.03.2026 14:30:00",
    }


async def test_every_operation_is_counted(api: httpx.AsyncClient, emulators: EmulatorHost) -> None:
    # when
    await api.get("/status")
    await api.get("/accounts/7200000001/meters")
    await api.get("/accounts/7200000002/meters")
    await api.get("/meters/100001/readings")
    await submit(api, "100001", {"T1": "1,0"})
    await api.get("/openapi.json")

    # then
    assert emulators.runtimes["metering"].calls.snapshot() == {
        "GetStatus": 1,
        "ListMeters": 2,
        "ListReadings": 1,
        "SubmitReadings": 1,
        "GetOpenApi": 1,
    }


async def test_an_internal_error_is_the_servlet_containers_page(
    api: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    emulators.runtimes["metering"].faults.update({"error_rate": 1})

    # when
    answer = await api.get("/status")

    # then
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Apache Tomcat" in answer.text


async def test_submissions_survive_a_restart_and_reseed_restores_the_demo(
    tmp_path: Path,
) -> None:
    # given
    config = EmulatorConfig(metering_port=0, maintenance_window="", data_dir=tmp_path)
    first = EmulatorHost(config, systems=("metering",))
    await first.start()
    async with httpx.AsyncClient(base_url=first.config.metering_url, verify=TLS) as client:
        created = await submit(client, "100002", {"T1": "99999,0"}, key="durable")
    await first.stop()
    assert created.status_code == 201, created.text

    # when
    second = EmulatorHost(config, systems=("metering",))
    await second.start()
    try:
        async with httpx.AsyncClient(base_url=second.config.metering_url, verify=TLS) as client:
            repeated = await submit(client, "100002", {"T1": "99999,0"}, key="durable")
            before_reset = (await client.get("/meters/100002/readings")).json()["items"][0]
            await client.post(second.config.url(second.config.metering_port, "/_admin/reset"))
            after_reset = (await client.get("/meters/100002/readings")).json()["items"][0]
    finally:
        await second.stop()

    # then
    assert (tmp_path / "emulators" / "metering.sqlite3").exists()
    assert (repeated.status_code, repeated.json()) == (201, created.json())
    assert before_reset["value"] == "99999,0"
    assert after_reset["value"] != "99999,0"


# --- the OpenAPI description -----------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


async def test_the_openapi_description_is_served_and_structurally_sound(
    api: httpx.AsyncClient,
) -> None:
    # when
    answer = await api.get("/openapi.json")

    # then
    assert answer.status_code == 200
    document = answer.json()
    assert document == OPENAPI
    assert document["openapi"].startswith("3.0.")
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["servers"] == [{"url": "/api/v1"}]
    assert set(document["paths"]) == {
        "/status",
        "/accounts/{number}/meters",
        "/meters",
        "/meters/{meterId}/readings",
    }
    operations = [
        operation
        for path in document["paths"].values()
        for method, operation in path.items()
        if method in {"get", "post", "put", "delete", "patch"}
    ]
    ids = [operation["operationId"] for operation in operations]
    assert sorted(ids) == [
        "getStatus",
        "listMeters",
        "listMetersBulk",
        "listReadings",
        "submitReadings",
    ]
    assert all(operation["responses"] for operation in operations)
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert _resolve(document, ref) is not None
    for path, item in document["paths"].items():
        for operation in item.values():
            parameters = [
                _resolve(document, p["$ref"]) if "$ref" in p else p
                for p in operation.get("parameters", [])
            ]
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert set(re.findall(r"{(\w+)}", path)) == declared, path


def _check(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """A small validator for the JSON Schema subset the description uses."""
    if "$ref" in schema:
        _check(document, _resolve(document, schema["$ref"]), value, where)
        return
    if value is None:
        assert schema.get("nullable"), f"{where}: null not allowed"
        return
    for part in schema.get("allOf", []):
        _check(document, part, value, where)
    kind = schema.get("type")
    python = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "boolean": bool,
    }
    if kind is not None:
        assert isinstance(value, python[kind]), f"{where}: {value!r} is not {kind}"
        if kind == "integer":
            assert not isinstance(value, bool), where
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} !~ {schema['pattern']}"
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, f"{where}: {name} missing"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(properties), f"{where}: extra {set(value) - set(properties)}"
        for name, item in value.items():
            if name in properties:
                _check(document, properties[name], item, f"{where}.{name}")
    if kind == "array":
        for index, item in enumerate(value):
            _check(document, schema["items"], item, f"{where}[{index}]")


def _response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    response = OPENAPI["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = _resolve(OPENAPI, response["$ref"])
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_real_answers_match_the_openapi_description(
    api: httpx.AsyncClient, admin: httpx.AsyncClient, emulators: EmulatorHost
) -> None:
    # given
    previous = last_demo_value(emulators, "100002", "T1").value
    exchanges = [
        ("/status", "get", await api.get("/status")),
        ("/accounts/{number}/meters", "get", await api.get("/accounts/7200000001/meters")),
        ("/accounts/{number}/meters", "get", await api.get("/accounts/1/meters")),
        ("/meters", "get", await api.get("/meters?account=7200000001&account=7200000004")),
        ("/meters", "get", await api.get("/meters")),
        ("/meters/{meterId}/readings", "get", await api.get("/meters/100003/readings")),
        ("/meters/{meterId}/readings", "get", await api.get("/meters/1/readings?limit=x")),
        ("/meters/{meterId}/readings", "post", await submit(api, "100002", {"T1": "0,1"})),
        (
            "/meters/{meterId}/readings",
            "post",
            await submit(api, "100002", {"T1": comma(previous + 1)}, key="ok"),
        ),
        (
            "/meters/{meterId}/readings",
            "post",
            await submit(api, "100002", {"T1": "1,0"}, key="old", date="10.01.2020"),
        ),
    ]
    await admin.put("/_admin/maintenance", json={"window": "00:00-23:59"})
    exchanges.append(("/status", "get", await api.get("/status")))

    # when / then
    for path, method, answer in exchanges:
        schema = _response_schema(path, method, answer.status_code)
        _check(OPENAPI, schema, answer.json(), f"{method} {path} {answer.status_code}")
