"""Submitting readings (MTR-1..7): rules first, then metering, or the outbox when it is down.

Every submission is recorded in the durable outbox *before* metering is asked, keyed by a
``request_id`` derived from the customer and their idempotency key. Metering de-duplicates
by that id, so whichever delivers it (this request inline, or the outbox worker after an
outage or a restart) it is booked once. The customer's repeat with the same key gets the
first answer; the same key with other values is refused.
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from adapters.errors import UpstreamUnavailable
from adapters.metering import MeteringClient, PeriodLocked, RejectionReason, TariffZone
from adapters.metering import models as metering_models
from gateway.accounts.service import AccountsService
from gateway.clock import Clock
from gateway.errors import DomainError, ErrorCode
from gateway.identity.sessions import Viewer
from gateway.outbox import Entry, Outbox, OutboxState, digest
from gateway.readings import rules

logger = logging.getLogger(__name__)

KIND = "reading"
PAGE = 100
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUEST_IDS = uuid.UUID("6f1d3c52-8d9b-4c1e-9a57-2f4e0c7b9a10")
"""Namespace of the ``request_id`` sent to metering (UUIDv5 of user and key)."""

METERING_REFUSALS = {
    RejectionReason.METER_CLOSED.value: ErrorCode.METER_CLOSED,
    RejectionReason.WRONG_ZONES.value: ErrorCode.ZONES_MISMATCH,
    RejectionReason.INVALID_VALUE.value: ErrorCode.READING_INVALID,
    RejectionReason.VALUE_OVER_CAPACITY.value: ErrorCode.READING_EXCEEDS_CAPACITY,
    RejectionReason.VALUE_BELOW_PREVIOUS.value: ErrorCode.READING_BELOW_PREVIOUS,
}
"""Metering's 422 codes that our own rules name too (they should have caught them first)."""


class SubmissionStatus(StrEnum):
    """Where a submission stands."""

    ACCEPTED = "accepted"
    """Metering accepted it."""
    PENDING = "pending"
    """Metering was unavailable: it waits in the outbox and will be delivered."""
    REJECTED = "rejected"
    """Metering refused it when it was delivered later (its message is kept)."""
    FAILED = "failed"
    """Every delivery attempt failed; the contact centre has been alerted."""


@dataclass(frozen=True)
class Submission:
    """A reading submission as the customer sees it."""

    id: uuid.UUID
    meter_id: str
    account_number: str
    status: SubmissionStatus
    values: tuple[tuple[TariffZone, Decimal], ...]
    consumption: tuple[tuple[TariffZone, Decimal], ...]
    submitted_at: datetime
    taken_on: date
    message: str | None
    """Metering's refusal, when it refused a delivery from the outbox."""

    @classmethod
    def of(cls, entry: Entry) -> Submission:
        """The submission an outbox entry stands for."""
        payload = entry.payload
        status = {
            OutboxState.PENDING: SubmissionStatus.PENDING,
            OutboxState.DELIVERED: SubmissionStatus.ACCEPTED,
            OutboxState.REJECTED: SubmissionStatus.REJECTED,
            OutboxState.DEAD: SubmissionStatus.FAILED,
        }[entry.state]
        return cls(
            id=entry.id,
            meter_id=entry.subject,
            account_number=payload["account"],
            status=status,
            values=_zone_pairs(payload["values"]),
            consumption=_zone_pairs(payload["consumption"]),
            submitted_at=entry.created_at,
            taken_on=date.fromisoformat(payload["taken_on"]),
            message=entry.last_error if status is SubmissionStatus.REJECTED else None,
        )


def _zone_pairs(values: Mapping[str, str]) -> tuple[tuple[TariffZone, Decimal], ...]:
    return tuple((TariffZone(zone), Decimal(value)) for zone, value in values.items())


@dataclass(frozen=True)
class ReadingsPolicy:
    """The configurable parts of the readings rules."""

    timezone: ZoneInfo
    window_first_day: int
    window_last_day: int
    consumption_ceiling: Decimal


class ReadingsService:
    """Checks and submits readings; delivers queued ones (the outbox's ``reading`` kind)."""

    def __init__(
        self,
        accounts: AccountsService,
        metering: MeteringClient,
        outbox: Outbox,
        clock: Clock,
        policy: ReadingsPolicy,
    ) -> None:
        self.accounts = accounts
        self.metering = metering
        self.outbox = outbox
        self.clock = clock
        self.policy = policy
        outbox.register(KIND, self._deliver)
        outbox.listen(KIND, self._settled)

    def today(self) -> date:
        """Today in the utility's time zone."""
        return self.clock.now().astimezone(self.policy.timezone).date()

    def window(self) -> rules.Window:
        """This month's readings window, or the next one when it is shut (MTR-2)."""
        return rules.window(self.today(), self.policy.window_first_day, self.policy.window_last_day)

    async def submit(
        self,
        viewer: Viewer,
        meter_id: str,
        values: Sequence[tuple[TariffZone, Decimal]],
        idempotency_key: str,
        *,
        confirm_high_consumption: bool,
    ) -> Submission:
        """Check a submission, record it, and deliver it now if metering answers."""
        key = idempotency_key.strip()
        if not KEY_PATTERN.match(key):
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_INVALID, "idempotencyKey")
        request_id = str(uuid.uuid5(REQUEST_IDS, f"{viewer.user_id}:{key}"))
        params = {
            "meter": meter_id,
            "values": sorted((zone.value, str(value.normalize())) for zone, value in values),
            "confirm": confirm_high_consumption,
        }
        params_sha256 = digest(params)
        earlier = await self.outbox.get(request_id)
        if earlier is not None:
            return self._repeat(earlier, params_sha256)

        found = await self.accounts.find_meter(viewer, meter_id)
        meter = found.meter
        if not meter.active:
            raise DomainError(ErrorCode.METER_CLOSED, "meterId")
        shown = self.window()
        if not shown.is_open:
            raise DomainError(
                ErrorCode.READINGS_WINDOW_CLOSED,
                None,
                f"Показания принимаются с {shown.first_day} по {shown.last_day} число "
                f"месяца. Следующий приём показаний: с {shown.opens_on:%d.%m.%Y}.",
            )
        previous = await self._previous_period(meter, self.today().replace(day=1))
        used = rules.check_values(
            meter.zones,
            meter.digits,
            previous,
            values,
            ceiling=self.policy.consumption_ceiling,
            confirmed=confirm_high_consumption,
        )
        payload: dict[str, Any] = {
            "account": found.account_number,
            "meter": meter_id,
            "values": {zone.value: str(value) for zone, value in values},
            "consumption": {zone.value: str(amount) for zone, amount in used.items()},
            "taken_on": self.today().isoformat(),
        }
        entry, new = await self.outbox.record(
            KIND, request_id, meter_id, payload, params_sha256, viewer.user_id
        )
        if not new:  # the same key raced in from a parallel request
            return self._repeat(entry, params_sha256)
        delivered = await self.outbox.deliver(entry)
        if delivered.state is OutboxState.PENDING:
            logger.warning(
                "reading queued: metering unavailable",
                extra={"meter_id": meter_id, "outbox_id": str(entry.id)},
            )
        return self._answer(delivered)

    async def _previous_period(
        self, meter: metering_models.Meter, period: date
    ) -> dict[TariffZone, Decimal]:
        """The reading of each zone before ``period``: what a new one is compared with.
        A reading of ``period`` itself is replaced by the new one (MTR-4), so when the last
        readings are of this month, the history says what came before them."""
        last = {r.zone: r.value for r in meter.last_readings if r.date < period}
        if len(last) == len(meter.last_readings):
            return last
        before = period - timedelta(days=1)
        try:
            page = await self.metering.list_readings(
                meter.id, None, before, 0, 4 * len(meter.zones)
            )
        except UpstreamUnavailable:  # check against what is known; metering checks again
            return {r.zone: r.value for r in meter.last_readings}
        found: dict[TariffZone, Decimal] = {}
        for reading in page.items:  # newest first
            if reading.status is metering_models.ReadingStatus.ACCEPTED:
                found.setdefault(reading.zone, reading.value)
        return found

    def _repeat(self, earlier: Entry, params_sha256: str) -> Submission:
        if earlier.params_sha256 != params_sha256:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "idempotencyKey")
        return self._answer(earlier)

    def _answer(self, entry: Entry) -> Submission:
        """The customer's answer: a refusal at first delivery is a payload error."""
        if entry.state is OutboxState.REJECTED and entry.attempts <= 1:
            result = entry.result or {}
            if result.get("refusal") == PeriodLocked.__name__:
                raise DomainError(ErrorCode.PERIOD_LOCKED, "meterId")
            ours = METERING_REFUSALS.get(result.get("code", ""))
            if ours is not None:
                raise DomainError(ours, "values")
            raise DomainError(ErrorCode.READING_REJECTED, "values", entry.last_error or None)
        return Submission.of(entry)

    async def pending(self, meter_ids: Sequence[str]) -> list[list[Submission]]:
        """Undelivered submissions per meter (a DataLoader batch)."""
        found = await self.outbox.pending_of(KIND, list(meter_ids))
        return [[Submission.of(e) for e in found[meter_id]] for meter_id in meter_ids]

    async def _deliver(self, payload: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Send one recorded submission to metering (inline or from the worker)."""
        accepted = await self.metering.submit_readings(
            payload["meter"],
            request_id,
            {TariffZone(zone): Decimal(value) for zone, value in payload["values"].items()},
            date.fromisoformat(payload["taken_on"]),
        )
        await self.accounts.forget_meters(payload["account"])
        return {"registered_at": accepted.registered_at.isoformat(), "replaced": accepted.replaced}

    async def _settled(self, entry: Entry) -> None:
        """A queued submission was delivered or given up: the customer's next answers must
        show it, not the pending one a cached answer still holds."""
        if entry.user_id is not None:
            await self.accounts.viewers.answers_changed(entry.user_id)

    async def history(
        self, meter_id: str, since: date, until: date
    ) -> list[metering_models.Reading]:
        """Every reading of a meter between two dates, walking metering's pages."""
        readings: list[metering_models.Reading] = []
        offset = 0
        while True:
            page = await self.metering.list_readings(meter_id, since, until, offset, PAGE)
            readings.extend(page.items)
            if not page.has_more or not page.items:
                return readings
            offset += len(page.items)

    async def consumption(
        self, meter: metering_models.Meter, since: date, until: date
    ) -> list[tuple[date, TariffZone, Decimal]]:
        """kWh per month and zone from ``since``'s month to ``until``'s (CHG-3): the
        difference of each month's last accepted reading from the month before's."""
        first = since.replace(day=1)
        baseline = (first - timedelta(days=1)).replace(day=1)
        last: dict[tuple[date, TariffZone], metering_models.Reading] = {}
        for reading in await self.history(meter.id, baseline, until):
            if reading.status is not metering_models.ReadingStatus.ACCEPTED:
                continue
            key = (reading.date.replace(day=1), reading.zone)
            if key not in last or last[key].date < reading.date:
                last[key] = reading
        series: list[tuple[date, TariffZone, Decimal]] = []
        for zone in meter.zones:
            months = sorted(month for month, z in last if z is zone)
            for before, month in itertools.pairwise(months):
                if month < first:
                    continue
                used = rules.consumption(
                    last[(before, zone)].value, last[(month, zone)].value, meter.digits
                )
                series.append((month, zone, used))
        return sorted(series, key=lambda item: (item[0], meter.zones.index(item[1])))
