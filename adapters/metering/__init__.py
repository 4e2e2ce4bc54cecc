"""Metering's adapter: meters, reading history and submissions over its quirky REST API."""

from adapters.metering.client import (
    MAX_PAGE,
    METERING_TZ,
    MeteringClient,
    parse_meters,
    parse_meters_bulk,
    parse_readings_page,
    parse_submission,
)
from adapters.metering.errors import PeriodLocked, ReadingRejected
from adapters.metering.models import (
    ZONE_SCHEMES,
    Meter,
    Reading,
    ReadingSource,
    ReadingsPage,
    ReadingStatus,
    RejectionReason,
    SubmittedReading,
    SubmittedZone,
    TariffZone,
    ZoneReading,
)

__all__ = [
    "MAX_PAGE",
    "METERING_TZ",
    "ZONE_SCHEMES",
    "Meter",
    "MeteringClient",
    "PeriodLocked",
    "Reading",
    "ReadingRejected",
    "ReadingSource",
    "ReadingStatus",
    "ReadingsPage",
    "RejectionReason",
    "SubmittedReading",
    "SubmittedZone",
    "TariffZone",
    "ZoneReading",
    "parse_meters",
    "parse_meters_bulk",
    "parse_readings_page",
    "parse_submission",
]
