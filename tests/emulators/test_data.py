"""The demo data keeps the promises DESIGN.md makes about it, for any "today"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from emulators.data import SupplierGroup, add_months, build, consumption

TODAYS = [date(2026, 11, 24), date(2026, 1, 9), date(2026, 1, 10), date(2027, 2, 28)]


@pytest.mark.parametrize("today", TODAYS)
def test_every_statement_adds_up(today: date) -> None:
    data = build(today)

    for s in data.statements:
        charged = sum((line.amount for line in s.charges), Decimal("0"))
        assert s.opening_balance + charged + s.penalties - s.paid == s.closing_balance


@pytest.mark.parametrize("today", TODAYS)
def test_each_account_has_25_closed_periods_up_to_last_month(today: date) -> None:
    data = build(today)

    for number in ("7200000001", "7200000002", "7200000003", "7200000004"):
        periods = [s.period for s in data.statements if s.account == number]
        assert len(periods) == 25
        assert periods[-1] == add_months(today, -1)
        assert periods == sorted(periods)


def test_the_demo_accounts_are_as_documented() -> None:
    data = build(date(2026, 11, 24))
    owners = {a.number: a.owner_name for a in data.accounts}
    meters = {m.id: m for m in data.meters}

    assert owners == {
        "7200000001": "ИВАНОВА МАРИЯ ПЕТРОВНА",
        "7200000002": "ПЕТРОВ АЛЕКСЕЙ ИВАНОВИЧ",
        "7200000003": "СЕМИНА ОЛЬГА",
        "7200000004": "ИВАНОВА МАРИЯ ПЕТРОВНА",
    }
    first = [m for m in meters.values() if m.account == "7200000001"]
    assert sorted((len(m.zones), m.status) for m in first) == [
        (1, "Действует"),
        (1, "Закрыт"),
        (2, "Действует"),
    ]
    assert [len(m.zones) for m in meters.values() if m.account == "7200000002"] == [1]
    assert [len(m.zones) for m in meters.values() if m.account == "7200000003"] == [3]


def test_the_first_account_owes_in_all_four_groups_and_the_third_has_overpaid() -> None:
    balances = build(date(2026, 11, 24)).balances

    first = {b.group: b.debt for b in balances if b.account == "7200000001"}
    third = {b.group: b.debt for b in balances if b.account == "7200000003"}

    assert set(first) == set(SupplierGroup)
    assert all(debt > 0 for debt in first.values())
    assert sum(third.values()) < 0


def test_readings_only_grow_except_across_a_roll_over() -> None:
    data = build(date(2026, 11, 24))

    for meter in data.meters:
        for zone in meter.zones:
            values = [r.value for r in data.readings if r.meter_id == meter.id and r.zone == zone]
            for previous, current in zip(values, values[1:], strict=False):
                used = consumption(previous, current, meter.digits)
                assert Decimal("0") <= used < Decimal("1000"), (meter.id, previous, current)


def test_the_closed_meter_ends_with_its_dismantling() -> None:
    data = build(date(2026, 11, 24))

    closed = [r for r in data.readings if r.meter_id == "100003"]

    assert closed[-1].source == "Демонтаж"
    assert closed[0].source == "Контрольное снятие"


def test_the_same_day_gives_the_same_data() -> None:
    assert build(date(2026, 11, 24)) == build(date(2026, 11, 24))
