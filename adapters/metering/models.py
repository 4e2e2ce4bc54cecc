"""Clean records of metering: meters, readings and submissions, once its quirks are absorbed.

Metering writes dates as ``dd.mm.yyyy``, values as strings with a decimal comma
(``"12345,6"``), zones as codes ``T1``–``T3`` whose meaning depends on how many zones the
meter has, statuses and sources as Russian words, and times in local time without an
offset. Here they become :class:`~datetime.date`, :class:`~decimal.Decimal`, aware
:class:`~datetime.datetime` and the enums below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class TariffZone(StrEnum):
    """A tariff zone of a meter, in the product's words (MTR-1)."""

    SINGLE = "single"
    """The one zone of a single-rate meter (T1 of one)."""
    DAY = "day"
    """Day zone of a two-zone meter (T1 of two)."""
    NIGHT = "night"
    """Night zone of a two- or three-zone meter (T2)."""
    PEAK = "peak"
    """Peak zone of a three-zone meter (T1 of three)."""
    SEMI_PEAK = "semi_peak"
    """Semi-peak zone of a three-zone meter (T3 of three)."""


ZONE_SCHEMES: Mapping[int, tuple[TariffZone, ...]] = MappingProxyType(
    {
        1: (TariffZone.SINGLE,),
        2: (TariffZone.DAY, TariffZone.NIGHT),
        3: (TariffZone.PEAK, TariffZone.NIGHT, TariffZone.SEMI_PEAK),
    }
)
"""The zones of a meter by its zone count, in metering's order T1, T2, T3 (the Russian
convention: two zones are day and night; three are peak, night and semi-peak)."""


class ReadingSource(StrEnum):
    """Who took a reading."""

    CUSTOMER = "customer"
    """The customer submitted it («Абонент»)."""
    CONTROL = "control"
    """The utility's inspector read the meter («Контрольное снятие»); locks the period."""
    DISMANTLING = "dismantling"
    """The final reading when the meter was removed («Демонтаж»); locks the period."""

    @property
    def locks_period(self) -> bool:
        """Whether customers can no longer change the period after it (MTR-4)."""
        return self is not ReadingSource.CUSTOMER


class ReadingStatus(StrEnum):
    """Whether a reading counts."""

    ACCEPTED = "accepted"
    """It counts («Принято»)."""
    REPLACED = "replaced"
    """A later submission of the same period replaced it («Заменено»); history only."""


class RejectionReason(StrEnum):
    """Why metering refused a submission (its ``422`` codes)."""

    METER_CLOSED = "METER_CLOSED"
    """The meter is closed: history only (MTR-2)."""
    INVALID_DATE = "INVALID_DATE"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    PERIOD_CLOSED = "PERIOD_CLOSED"
    """The date's period is older than the period of the last accepted reading."""
    WRONG_ZONES = "WRONG_ZONES"
    """The values do not cover exactly the meter's zones."""
    INVALID_VALUE = "INVALID_VALUE"
    """A value metering cannot read (negative, more than one fractional digit…)."""
    VALUE_OVER_CAPACITY = "VALUE_OVER_CAPACITY"
    """A value past the meter's digit capacity (MTR-6)."""
    VALUE_BELOW_PREVIOUS = "VALUE_BELOW_PREVIOUS"
    """A value below the previous period's reading, and no plausible roll-over (MTR-6)."""
    OTHER = "OTHER"
    """A code this adapter does not know yet (the message still explains it)."""


@dataclass(frozen=True)
class ZoneReading:
    """The last accepted reading of one zone."""

    zone: TariffZone
    value: Decimal
    date: dt.date


@dataclass(frozen=True)
class Meter:
    """A meter (ПУ) of a personal account."""

    id: str
    serial: str
    model: str
    zones: tuple[TariffZone, ...]
    """In metering's order (T1, T2, T3): one of :data:`ZONE_SCHEMES`."""
    digits: int
    """Digits before the decimal comma; the meter rolls over to zero past them."""
    active: bool
    """In service; a closed meter shows its history only (MTR-2)."""
    installed: dt.date
    closed_on: dt.date | None
    verification_due: dt.date
    last_readings: tuple[ZoneReading, ...]
    """The last accepted reading of each zone that has one, in zone order."""

    @property
    def capacity(self) -> Decimal:
        """The first value the meter cannot show."""
        return Decimal(10) ** self.digits

    def last_reading(self, zone: TariffZone) -> ZoneReading | None:
        """The last accepted reading of ``zone``, if any."""
        return next((r for r in self.last_readings if r.zone is zone), None)


@dataclass(frozen=True)
class Reading:
    """One reading of one zone in a meter's history (MTR-5)."""

    date: dt.date
    zone: TariffZone
    value: Decimal
    source: ReadingSource
    status: ReadingStatus


@dataclass(frozen=True)
class ReadingsPage:
    """One page of a meter's history, newest first."""

    total: int
    """Readings matching the dates, on every page."""
    offset: int
    limit: int
    """The page size metering applied (it cuts sizes above 100)."""
    items: tuple[Reading, ...]

    @property
    def has_more(self) -> bool:
        """Whether readings follow this page."""
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class SubmittedZone:
    """One zone of an accepted submission, with what it implies (MTR-1)."""

    zone: TariffZone
    value: Decimal
    previous: Decimal | None
    """The previous period's reading of the zone; None for a meter without history."""
    previous_date: dt.date | None
    consumption: Decimal | None
    """kWh since ``previous`` (across a roll-over of the digit capacity)."""


@dataclass(frozen=True)
class SubmittedReading:
    """Metering's answer to an accepted submission (also to its repeats)."""

    request_id: str
    meter_id: str
    date: dt.date
    """The reading's date (today at metering when none was given)."""
    period: dt.date
    """First day of the month the reading belongs to."""
    replaced: bool
    """An earlier submission of the period was replaced by this one (MTR-4)."""
    registered_at: dt.datetime
    """When metering took it (aware)."""
    zones: tuple[SubmittedZone, ...]

    @property
    def values(self) -> Mapping[TariffZone, Decimal]:
        """The accepted value of each zone."""
        return MappingProxyType({z.zone: z.value for z in self.zones})

    @property
    def consumption(self) -> Mapping[TariffZone, Decimal | None]:
        """kWh implied in each zone (None where there was no previous reading)."""
        return MappingProxyType({z.zone: z.consumption for z in self.zones})
