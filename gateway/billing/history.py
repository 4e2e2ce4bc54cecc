"""Payment history (PAY-1): what billing has booked, with the gateway's own payments that
billing has not booked yet (PAY-4), each payment once.

Billing lists a payment only once it is *booked*, some time after the gateway posted it.
Until then the gateway's payments service knows it (:class:`UnbookedPayments`); the history
shows it from there, ``PENDING`` (or whatever the payments service says). When billing has
booked it, billing's record carries the gateway's ``ExternalId``, and the payment is shown
once, as ``BOOKED``, under the id the gateway gave it.

Billing's part is cached briefly (:data:`~adapters.cache.PAYMENT_HISTORY`), stale-if-error;
the gateway's part is read fresh every time. While billing is down with nothing cached the
gateway's own payments are still listed, and the history says it is incomplete: a customer
who has just paid should see that payment rather than an error, and not pay again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from adapters.billing import BillingClient, BookedPayment, SupplierGroup
from adapters.cache import PAYMENT_HISTORY, UpstreamCache
from adapters.errors import NotFound, UpstreamUnavailable
from gateway.billing.publication import add_months
from gateway.clock import Clock

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


class PaymentStatus(StrEnum):
    """Where a payment stands, from the customer's point of view (PAY-4, PAY-5)."""

    PENDING = "pending"
    """Started in the gateway; the acquirer has not confirmed the money yet."""
    SUCCEEDED = "succeeded"
    """The acquirer took the money; billing has not booked it yet."""
    BOOKED = "booked"
    """Billing booked it against the account: it counts in the debts."""
    CANCELED = "canceled"
    """Abandoned or cancelled before the money was taken."""
    FAILED = "failed"
    """The acquirer declined it, or booking failed for good."""


@dataclass(frozen=True)
class UnbookedPayment:
    """A payment the gateway knows and billing has not booked (yet), as the payments
    service reports it.

    So that a payment keeps its id when billing books it, the payments service should use
    its public id as the ``ExternalId`` it posts to billing (``id == external_id``): a booked
    payment no longer reported here is shown under its ``ExternalId``.
    """

    id: str
    """The payment's id in the gateway (what ``Payment.id`` and ``paymentUpdated`` use)."""
    external_id: str
    """The ``ExternalId`` posted (or to be posted) to billing."""
    account_number: str
    group: SupplierGroup
    amount: Decimal
    status: str
    """A :class:`PaymentStatus` name or value (``"PENDING"`` or ``"pending"``)."""
    created_at: datetime
    """When the customer started it (aware)."""
    failure_reason: str | None = None
    """Why it was canceled or failed, in Russian (``None`` otherwise)."""


class UnbookedPayments(Protocol):
    """The gateway's payments that billing has not booked, per account (the payments
    service implements it)."""

    async def unbooked(self, account_numbers: Sequence[str]) -> dict[str, list[UnbookedPayment]]:
        """Each account's payments not booked by billing yet (accounts without any may be
        left out)."""
        ...


class NoUnbookedPayments:
    """No payments made through the gateway (until the payments service is wired)."""

    async def unbooked(self, account_numbers: Sequence[str]) -> dict[str, list[UnbookedPayment]]:
        """Nothing for any account."""
        return {number: [] for number in account_numbers}


@dataclass(frozen=True)
class HistoryPayment:
    """One payment of the history."""

    id: str
    """The gateway's id for payments made through it, else billing's document number."""
    group: SupplierGroup
    amount: Decimal
    status: PaymentStatus
    created_at: datetime
    """When it was paid (billing's ``PaidAt``), or started in the gateway if not booked."""
    booked_at: datetime | None
    """When billing booked it; ``None`` until then."""
    channel: str | None
    """Where the money came from, as billing names it; ``None`` until booked."""
    external_id: str | None
    failure_reason: str | None = None
    """Why a canceled or failed payment did not go through, in Russian."""

    @property
    def position(self) -> tuple[datetime, str]:
        """Its place in the history (newest first: greater is earlier in the list)."""
        return self.created_at, self.id


@dataclass(frozen=True)
class PaymentHistory:
    """An account's payments, newest first."""

    payments: list[HistoryPayment]
    complete: bool
    """False when billing is unavailable and nothing is cached: only the gateway's own
    payments are listed."""
    as_of: datetime | None
    """When billing's part was read; ``None`` when it is missing."""
    stale: bool
    """Billing's part is the last known one: billing is unavailable."""

    def page(self, after: tuple[datetime, str] | None, limit: int) -> PaymentsPage:
        """Up to ``limit`` payments following the one at ``after`` (a cursor position)."""
        start = 0
        if after is not None:
            start = next(
                (i for i, p in enumerate(self.payments) if p.position < after), len(self.payments)
            )
        return PaymentsPage(
            payments=self.payments[start : start + limit],
            has_next_page=start + limit < len(self.payments),
            has_previous_page=start > 0,
            history=self,
        )


@dataclass(frozen=True)
class PaymentsPage:
    """A page of an account's payment history."""

    payments: list[HistoryPayment]
    has_next_page: bool
    has_previous_page: bool
    history: PaymentHistory


class PaymentHistoryService:
    """Builds payment histories from billing and the gateway's unbooked payments."""

    def __init__(
        self,
        billing: BillingClient,
        cache: UpstreamCache,
        clock: Clock,
        unbooked: UnbookedPayments,
        *,
        timezone: ZoneInfo,
        months: int,
    ) -> None:
        self.billing = billing
        self.cache = cache
        self.clock = clock
        self.unbooked = unbooked
        self.timezone = timezone
        self.months = months

    async def histories(self, numbers: Sequence[str]) -> list[PaymentHistory]:
        """The history of each account (a DataLoader batch): one ``GetPayments`` per account
        not cached, and one read of the gateway's unbooked payments for them all."""
        booked, unbooked = await asyncio.gather(
            asyncio.gather(*(self._booked(number) for number in numbers)),
            self.unbooked.unbooked(list(numbers)),
        )
        return [
            _merge(number, loaded, unbooked.get(number, []))
            for number, loaded in zip(numbers, booked, strict=True)
        ]

    async def history(self, number: str) -> PaymentHistory:
        """One account's history."""
        return (await self.histories([number]))[0]

    async def forget(self, number: str) -> None:
        """Drop billing's cached part (after a payment is booked, say)."""
        await self.cache.invalidate(PAYMENT_HISTORY, number)

    async def _booked(
        self, number: str
    ) -> tuple[list[BookedPayment] | None, datetime | None, bool]:
        today = self.clock.now().astimezone(self.timezone).date()
        since = add_months(today, -self.months)
        # one day of slack: billing accepts a PaidAt a few minutes ahead of its clock
        until = today + timedelta(days=1)

        async def fetch() -> list[BookedPayment]:
            try:
                return await self.billing.get_payments(number, since, until)
            except NotFound:
                return []  # billing does not know the account: nothing booked

        try:
            loaded = await self.cache.get_or_load(PAYMENT_HISTORY, number, fetch)
        except UpstreamUnavailable:
            logger.warning("payment history without billing's part: billing unavailable")
            return None, None, False
        return loaded.value, loaded.as_of, loaded.stale


def _merge(
    number: str,
    booked: tuple[list[BookedPayment] | None, datetime | None, bool],
    unbooked: list[UnbookedPayment],
) -> PaymentHistory:
    records, as_of, stale = booked
    ours = {u.external_id: u for u in unbooked if u.account_number == number}
    payments: list[HistoryPayment] = []
    booked_ids: set[str] = set()
    for record in records or []:
        mine = ours.get(record.external_id) if record.external_id else None
        if record.external_id:
            booked_ids.add(record.external_id)
        payments.append(
            HistoryPayment(
                id=mine.id if mine else record.external_id or record.payment_id,
                group=record.group,
                amount=_money(record.amount),
                status=PaymentStatus.BOOKED,
                created_at=record.paid_at,
                booked_at=record.booked_at,
                channel=record.channel,
                external_id=record.external_id,
            )
        )
    for payment in ours.values():
        if payment.external_id in booked_ids:
            continue  # billing booked it: shown once, as booked
        payments.append(
            HistoryPayment(
                id=payment.id,
                group=payment.group,
                amount=_money(payment.amount),
                status=_status(payment.status),
                created_at=payment.created_at,
                booked_at=None,
                channel=None,
                external_id=payment.external_id,
                failure_reason=payment.failure_reason,
            )
        )
    payments.sort(key=lambda p: p.position, reverse=True)
    return PaymentHistory(payments, complete=records is not None, as_of=as_of, stale=stale)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _status(value: str) -> PaymentStatus:
    try:
        return PaymentStatus(value.strip().lower())
    except ValueError:
        logger.warning("unknown payment status %r shown as pending", value)
        return PaymentStatus.PENDING
