"""Accounts, debts, meters and readings in the schema (ACC-1, ACC-2, MTR-1..7, CHG-3).

Fields backed by a legacy system are nullable: when the system is down and nothing is
cached, that field alone is null with an ``UPSTREAM_UNAVAILABLE`` error, and the rest of the
page renders (partial data, docs/architecture.md). Values served from cache while the
system is down say so with ``stale: true`` and their ``asOf`` time.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

import strawberry

from adapters import metering
from adapters.billing import AccountBalance, SupplierGroup
from adapters.cache import Cached
from adapters.errors import UpstreamUnavailable
from gateway.readings import rules
from gateway.readings.service import Submission, SubmissionStatus
from schema.billing.types import BillingAccountFields
from schema.connections import Connection, page_bounds
from schema.context import Info
from schema.errors import UpstreamUnavailableError
from schema.payments.types import PaymentFields
from schema.scalars import AccountNumber

CENT = Decimal("0.01")

TariffZone = strawberry.enum(
    metering.TariffZone,
    name="TariffZone",
    description="A tariff zone: SINGLE (one-rate), DAY/NIGHT (two-zone), "
    "PEAK/NIGHT/SEMI_PEAK (three-zone).",
)
ReadingSource = strawberry.enum(
    metering.ReadingSource, name="ReadingSource", description="Who took a reading."
)
ReadingSubmissionStatus = strawberry.enum(
    SubmissionStatus,
    name="ReadingSubmissionStatus",
    description="ACCEPTED by metering; PENDING in the gateway's outbox while metering is "
    "unavailable (it will be delivered); REJECTED by metering on a later delivery; FAILED "
    "after every attempt (the contact centre is alerted).",
)


@strawberry.enum(description="Whether a meter takes readings.")
class MeterStatus(Enum):
    ACTIVE = "active"
    CLOSED = "closed"


def money(value: Decimal) -> Decimal:
    """Roubles with kopecks, as the API always shows money."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@strawberry.type(description="What an account owes per supplier group (ACC-2, PAY-2).")
class Debts:
    housing: Decimal = strawberry.field(
        description="ЖКУ with split payment (group 1); negative is an overpayment."
    )
    housing_separate: Decimal = strawberry.field(
        description="ЖКУ of suppliers that take only a separate payment (group 2)."
    )
    solid_waste: Decimal = strawberry.field(description="ТКО, solid waste (group 3).")
    capital_repair: Decimal = strawberry.field(description="Капремонт (group 4).")
    penalties: Decimal = strawberry.field(description="Penalties of all groups (пени).")
    total: Decimal = strawberry.field(description="Everything due, penalties included.")
    as_of: datetime = strawberry.field(description="When billing gave these figures.")
    stale: bool = strawberry.field(
        description="True when billing is unavailable and these are the last known figures."
    )

    @classmethod
    def of(cls, loaded: Cached[AccountBalance]) -> Debts:
        """Map billing's balances."""
        groups = loaded.value.groups

        def debt(group: SupplierGroup) -> Decimal:
            found = groups.get(group)
            return money(found.debt) if found is not None else Decimal("0.00")

        return cls(
            housing=debt(SupplierGroup.HOUSING),
            housing_separate=debt(SupplierGroup.HOUSING_SEPARATE),
            solid_waste=debt(SupplierGroup.SOLID_WASTE),
            capital_repair=debt(SupplierGroup.CAPITAL_REPAIR),
            penalties=money(loaded.value.penalties),
            total=money(loaded.value.total),
            as_of=loaded.as_of,
            stale=loaded.stale,
        )


@strawberry.type(description="A value of one tariff zone on a date.")
class ZoneReading:
    zone: TariffZone = strawberry.field(description="The tariff zone.")  # type: ignore[valid-type]
    value: Decimal = strawberry.field(description="The register's value, kWh.")
    date: date = strawberry.field(description="When it was taken.")


@strawberry.type(description="kWh used in one tariff zone.")
class ZoneConsumption:
    zone: TariffZone = strawberry.field(description="The tariff zone.")  # type: ignore[valid-type]
    kwh: Decimal = strawberry.field(description="kWh used.")


@strawberry.type(description="One reading of one zone in a meter's history (MTR-5).")
class Reading:
    date: date = strawberry.field(description="When it was taken.")
    zone: TariffZone = strawberry.field(description="The tariff zone.")  # type: ignore[valid-type]
    value: Decimal = strawberry.field(description="The register's value, kWh.")
    source: ReadingSource = strawberry.field(  # type: ignore[valid-type]
        description="Who took it: the customer, an inspector (control), or dismantling."
    )
    replaced: bool = strawberry.field(
        description="A later submission of the same month replaced it (history only)."
    )


@strawberry.type(name="ReadingConnection", description="A page of a meter's readings.")
class ReadingConnection(Connection[Reading]):
    pass


@strawberry.type(description="kWh of one month in one zone, for the consumption chart.")
class MonthlyConsumption:
    month: str = strawberry.field(description="The month, YYYY-MM.")
    zone: TariffZone = strawberry.field(description="The tariff zone.")  # type: ignore[valid-type]
    kwh: Decimal = strawberry.field(description="kWh used in the month.")


@strawberry.type(description="A reading submission and what it implies (MTR-1, MTR-7).")
class ReadingSubmission:
    id: strawberry.ID = strawberry.field(description="The submission's id.")
    meter_id: strawberry.ID = strawberry.field(description="The meter it is for.")
    status: ReadingSubmissionStatus = strawberry.field(  # type: ignore[valid-type]
        description="Where it stands."
    )
    values: list[ZoneReading] = strawberry.field(description="The submitted values.")
    consumption: list[ZoneConsumption] = strawberry.field(
        description="kWh since the previous reading per zone (across a rollover)."
    )
    submitted_at: datetime = strawberry.field(description="When the customer sent it.")
    message: str | None = strawberry.field(
        description="Metering's reason, when it refused a queued submission."
    )

    @classmethod
    def of(cls, submission: Submission) -> ReadingSubmission:
        """Map the domain's submission."""
        return cls(
            id=strawberry.ID(str(submission.id)),
            meter_id=strawberry.ID(submission.meter_id),
            status=submission.status,
            values=[
                ZoneReading(zone=zone, value=value, date=submission.taken_on)
                for zone, value in submission.values
            ],
            consumption=[
                ZoneConsumption(zone=zone, kwh=kwh) for zone, kwh in submission.consumption
            ],
            submitted_at=submission.submitted_at,
            message=submission.message,
        )


@strawberry.type(description="When readings are accepted (MTR-2), in the utility's time.")
class ReadingsWindow:
    first_day: int = strawberry.field(description="First day of the month of the window.")
    last_day: int = strawberry.field(description="Last day of the month of the window.")
    opens_on: date = strawberry.field(
        description="First day of the current window, or of the next one when it is shut."
    )
    closes_on: date = strawberry.field(description="Last day of that window.")
    is_open: bool = strawberry.field(description="Whether readings are accepted now.")
    time_zone: str = strawberry.field(description="The utility's time zone (IANA name).")

    @classmethod
    def of(cls, window: rules.Window, time_zone: str) -> ReadingsWindow:
        """Map the rules' window."""
        return cls(
            first_day=window.first_day,
            last_day=window.last_day,
            opens_on=window.opens_on,
            closes_on=window.closes_on,
            is_open=window.is_open,
            time_zone=time_zone,
        )


@strawberry.type(description="A meter (ПУ) of an account (ACC-2).")
class Meter:
    id: strawberry.ID = strawberry.field(description="Metering's id of the meter.")
    serial: str = strawberry.field(description="Serial number on the meter's plate.")
    model: str = strawberry.field(description="Make and model.")
    status: MeterStatus = strawberry.field(description="ACTIVE, or CLOSED (history only).")
    zones: list[TariffZone] = strawberry.field(  # type: ignore[valid-type]
        description="Its tariff zones, in the order of the meter's registers."
    )
    digits: int = strawberry.field(description="Digits before the decimal point.")
    installed_on: date = strawberry.field(description="When it was installed.")
    verification_due: date = strawberry.field(description="Next metrological check.")
    last_readings: list[ZoneReading] = strawberry.field(
        description="The last accepted reading of each zone, with its date."
    )
    stale: bool = strawberry.field(
        description="True when metering is unavailable and this is the last known state."
    )
    record: strawberry.Private[metering.Meter]

    @strawberry.field(
        description="Whether readings can be submitted now: the meter is active and the "
        "window is open (MTR-1, MTR-2)."
    )
    def can_submit(self, info: Info) -> bool:
        return self.record.active and info.context.services.readings.window().is_open

    @strawberry.field(
        description="Submissions waiting in the gateway for metering (MTR-7); empty when "
        "everything is delivered."
    )
    async def pending_submissions(self, info: Info) -> list[ReadingSubmission]:
        found = await info.context.loaders.pending_by_meter.load(self.record.id)
        return [ReadingSubmission.of(s) for s in found]

    @strawberry.field(description="The history of readings, newest first (MTR-5).")
    async def readings(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> ReadingConnection:
        offset, limit = page_bounds(first, after)
        try:
            page = await info.context.services.upstreams.metering.list_readings(
                self.record.id, since, until, offset, limit
            )
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("metering") from exc
        items = [
            Reading(
                date=r.date,
                zone=r.zone,
                value=r.value,
                source=r.source,
                replaced=r.status is metering.ReadingStatus.REPLACED,
            )
            for r in page.items
        ]
        return ReadingConnection.of(items, offset, page.total)  # type: ignore[return-value]

    @strawberry.field(
        description="Monthly consumption per zone between two months (CHG-3), for a chart."
    )
    async def consumption(self, info: Info, since: date, until: date) -> list[MonthlyConsumption]:
        try:
            series = await info.context.services.readings.consumption(self.record, since, until)
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("metering") from exc
        return [
            MonthlyConsumption(month=f"{month:%Y-%m}", zone=zone, kwh=kwh)
            for month, zone, kwh in series
        ]

    @classmethod
    def of(cls, meter: metering.Meter, *, stale: bool) -> Meter:
        """Map metering's meter."""
        return cls(
            id=strawberry.ID(meter.id),
            serial=meter.serial,
            model=meter.model,
            status=MeterStatus.ACTIVE if meter.active else MeterStatus.CLOSED,
            zones=list(meter.zones),
            digits=meter.digits,
            installed_on=meter.installed,
            verification_due=meter.verification_due,
            last_readings=[
                ZoneReading(zone=r.zone, value=r.value, date=r.date) for r in meter.last_readings
            ],
            stale=stale,
            record=meter,
        )


@strawberry.type(description="A personal account (лицевой счёт) of the customer.")
class Account(BillingAccountFields, PaymentFields):
    number: AccountNumber = strawberry.field(description="The 10-digit account number.")

    @strawberry.field(description="The supply address; null when billing is unavailable.")
    async def address(self, info: Info) -> str | None:
        try:
            loaded = await info.context.loaders.account_by_number.load(self.number)
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("billing") from exc
        return loaded.value.address if loaded is not None else None

    @strawberry.field(description="Debts per supplier group; null when billing is down.")
    async def debts(self, info: Info) -> Debts | None:
        try:
            loaded = await info.context.loaders.balance_by_number.load(self.number)
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("billing") from exc
        return Debts.of(loaded) if loaded is not None else None

    @strawberry.field(description="The account's meters; null when metering is down.")
    async def meters(self, info: Info) -> list[Meter] | None:
        try:
            loaded = await info.context.loaders.meters_by_account.load(self.number)
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailableError("metering") from exc
        return [Meter.of(m, stale=loaded.stale) for m in loaded.value]

    @strawberry.field(description="When readings are accepted (MTR-2).")
    def readings_window(self, info: Info) -> ReadingsWindow:
        services = info.context.services
        return ReadingsWindow.of(services.readings.window(), services.settings.utility_timezone)


def accounts_of(numbers: list[str]) -> list[Account]:
    """The schema's accounts for account numbers."""
    return [Account(number=AccountNumber(n)) for n in numbers]
