"""The readings rules on their own (MTR-2..4); the API tests cover them through GraphQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.errors import DomainError, ErrorCode
from gateway.readings.rules import check_values, consumption, window

CEILING = Decimal(3000)


@pytest.mark.parametrize(
    ("today", "opens", "closes", "is_open"),
    [
        (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 25), True),
        (date(2026, 11, 25), date(2026, 11, 1), date(2026, 11, 25), True),
        (date(2026, 11, 26), date(2026, 12, 1), date(2026, 12, 25), False),
        (date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 25), False),
    ],
)
def test_window_is_the_1st_to_the_25th_and_points_to_the_next_one_when_shut(
    today: date, opens: date, closes: date, *, is_open: bool
) -> None:
    shown = window(today, 1, 25)
    assert (shown.opens_on, shown.closes_on, shown.is_open) == (opens, closes, is_open)


def test_window_last_day_is_clamped_to_short_months() -> None:
    assert window(date(2027, 2, 27), 1, 31).closes_on == date(2027, 2, 28)


def test_consumption_across_a_rollover() -> None:
    assert consumption(Decimal("99990"), Decimal("15"), 5) == Decimal(25)
    assert consumption(Decimal("100.5"), Decimal("150"), 5) == Decimal("49.5")


def _check(values: list[tuple[str, Decimal]], *, confirmed: bool = False) -> dict[str, Decimal]:
    previous = {"DAY": Decimal("1000"), "NIGHT": Decimal("99990")}
    return check_values(["DAY", "NIGHT"], 5, previous, values, ceiling=CEILING, confirmed=confirmed)


def _refusal(values: list[tuple[str, Decimal]], *, confirmed: bool = False) -> ErrorCode:
    with pytest.raises(DomainError) as caught:
        _check(values, confirmed=confirmed)
    return caught.value.code


def test_a_plausible_reading_gives_consumption_per_zone_with_rollover() -> None:
    used = _check([("DAY", Decimal("1100.5")), ("NIGHT", Decimal("20"))])
    assert used == {"DAY": Decimal("100.5"), "NIGHT": Decimal("30")}


@pytest.mark.parametrize(
    "values",
    [
        [("DAY", Decimal(1100))],
        [("DAY", Decimal(1100)), ("NIGHT", Decimal(1)), ("PEAK", Decimal(1))],
        [("DAY", Decimal(1100)), ("DAY", Decimal(1200))],
    ],
)
def test_one_value_per_zone_of_the_meter(values: list[tuple[str, Decimal]]) -> None:
    assert _refusal(values) is ErrorCode.ZONES_MISMATCH


def test_below_previous_without_a_plausible_rollover_is_refused() -> None:
    assert _refusal([("DAY", Decimal(999)), ("NIGHT", Decimal(20))]) is (
        ErrorCode.READING_BELOW_PREVIOUS
    )


def test_beyond_the_digit_capacity_is_refused() -> None:
    assert _refusal([("DAY", Decimal(100000)), ("NIGHT", Decimal(20))]) is (
        ErrorCode.READING_EXCEEDS_CAPACITY
    )


@pytest.mark.parametrize("bad", [Decimal(-1), Decimal("1100.55"), Decimal("NaN")])
def test_negative_or_too_precise_values_are_refused(bad: Decimal) -> None:
    assert _refusal([("DAY", bad), ("NIGHT", Decimal(20))]) is ErrorCode.READING_INVALID


def test_high_consumption_needs_confirmation() -> None:
    values = [("DAY", Decimal(4001)), ("NIGHT", Decimal(20))]
    assert _refusal(values) is ErrorCode.HIGH_CONSUMPTION_UNCONFIRMED
    assert _check(values, confirmed=True)["DAY"] == Decimal(3001)
    at_ceiling = [("DAY", Decimal(4000)), ("NIGHT", Decimal(20))]
    assert _check(at_ceiling)["DAY"] == CEILING
