"""The rules a reading must pass before it goes to metering (MTR-1..4).

Pure functions over plain values, so that each rule is tested on its own and the service
only gathers the facts (the meter, its last readings, the time in the utility's zone).
"""

from __future__ import annotations

import calendar
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from gateway.errors import DomainError, ErrorCode

Z = TypeVar("Z", bound=Hashable)

TENTH = Decimal("0.1")
ROLLOVER_SHARE = 10
"""A lower value is a rollover only if it implies less than 1/10 of the capacity used
(metering's own rule)."""
"""Metering keeps readings to a tenth of a kWh."""


@dataclass(frozen=True)
class Window:
    """The monthly window for readings (MTR-2), in the utility's local dates."""

    first_day: int
    last_day: int
    opens_on: date
    """The first day of the current window, or of the next one when it is shut."""
    closes_on: date
    """The last day of that window."""
    is_open: bool


def window(today: date, first_day: int, last_day: int) -> Window:
    """The window of ``today``'s month, or the next month's when ``today`` is past it."""

    def of_month(year: int, month: int) -> tuple[date, date]:
        days = calendar.monthrange(year, month)[1]
        return date(year, month, min(first_day, days)), date(year, month, min(last_day, days))

    opens, closes = of_month(today.year, today.month)
    if today > closes:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        opens, closes = of_month(year, month)
    return Window(first_day, last_day, opens, closes, opens <= today <= closes)


def consumption(previous: Decimal, current: Decimal, digits: int) -> Decimal:
    """kWh between two readings; a lower value means the register rolled over."""
    if current >= previous:
        return current - previous
    return Decimal(10) ** digits - previous + current


def check_values(
    zones: Sequence[Z],
    digits: int,
    previous: Mapping[Z, Decimal],
    values: Sequence[tuple[Z, Decimal]],
    *,
    ceiling: Decimal,
    confirmed: bool,
) -> dict[Z, Decimal]:
    """Check one submission against the meter; return the consumption per zone.

    * one value per zone of the meter, none missing, none extra (MTR-3);
    * a value is non-negative with at most one decimal and fits the meter's digits;
    * not below the previous reading, unless the register plausibly rolled over: less
      than a tenth of the capacity used across the rollover (MTR-4);
    * consumption above ``ceiling`` needs the customer's explicit confirmation.
    """
    given = [zone for zone, _ in values]
    if len(set(given)) != len(given) or set(given) != set(zones):
        raise DomainError(ErrorCode.ZONES_MISMATCH, "values")
    capacity = Decimal(10) ** digits
    result: dict[Z, Decimal] = {}
    high = False
    for zone, value in values:
        if not value.is_finite() or value < 0:
            raise DomainError(ErrorCode.READING_INVALID, "values")
        if value >= capacity:
            raise DomainError(ErrorCode.READING_EXCEEDS_CAPACITY, "values")
        if value != value.quantize(TENTH):
            raise DomainError(ErrorCode.READING_INVALID, "values")
        last = previous.get(zone)
        if last is None:
            result[zone] = Decimal(0)
            continue
        used = consumption(last, value, digits)
        if value < last and used >= capacity / ROLLOVER_SHARE:
            raise DomainError(ErrorCode.READING_BELOW_PREVIOUS, "values")
        high = high or used > ceiling
        result[zone] = used
    if high and not confirmed:
        raise DomainError(ErrorCode.HIGH_CONSUMPTION_UNCONFIRMED, "confirmHighConsumption")
    return result
