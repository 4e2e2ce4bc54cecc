"""Metering's refusals of a submission, as kinds of :class:`~adapters.errors.UpstreamRejected`
that say why in terms the domain can act on."""

from __future__ import annotations

from datetime import date

from adapters.errors import UpstreamRejected
from adapters.metering.models import ReadingSource, RejectionReason, TariffZone


class ReadingRejected(UpstreamRejected):
    """Metering refused the values (its ``422``): closed meter, bad date, wrong zones, a
    value past the digit capacity or below the previous one. ``message`` is metering's
    Russian text for the customer; ``zone`` is set when one value is at fault."""

    def __init__(
        self,
        upstream: str,
        code: str,
        message: str,
        *,
        reason: RejectionReason,
        zone: TariffZone | None = None,
    ) -> None:
        super().__init__(upstream, code, message)
        self.reason = reason
        self.zone = zone


class PeriodLocked(UpstreamRejected):
    """The period is locked (metering's ``409``): a control reading or the dismantling
    happened in it, so the customer's readings of that month can no longer change
    (MTR-4)."""

    def __init__(
        self,
        upstream: str,
        code: str,
        message: str,
        *,
        period: date | None,
        locked_by: ReadingSource | None,
        locked_on: date | None,
    ) -> None:
        super().__init__(upstream, code, message)
        self.period = period
        """First day of the locked month."""
        self.locked_by = locked_by
        self.locked_on = locked_on
