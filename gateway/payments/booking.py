"""Booking succeeded payments in billing (PAY-4): ``PostPayment`` through the durable
outbox, then ``BOOKED`` only once billing's ``GetPayments`` lists the payment.

The outbox row is keyed by the payment's ``external_id``, which is also billing's
``ExternalId``: whoever delivers it, however often (inline, the worker after an outage, a
replica after a restart), billing books the money once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapters.billing import BillingClient, SupplierGroup
from adapters.cache import BALANCES, PAYMENT_HISTORY, UpstreamCache
from adapters.errors import UpstreamUnavailable
from gateway.billing.history import PaymentStatus
from gateway.clock import Clock
from gateway.outbox import Entry, Outbox, OutboxState, digest
from gateway.payments.ledger import PaymentLedger
from gateway.payments.metrics import PaymentMetrics
from gateway.payments.records import Booking, PaymentRecord
from gateway.store.models import CardPayment

logger = logging.getLogger(__name__)

KIND = "payment_booking"
"""The outbox kind of bookings."""


class Bookings:
    """Queues bookings, delivers them (the outbox handler) and confirms them in billing."""

    def __init__(
        self,
        ledger: PaymentLedger,
        outbox: Outbox,
        billing: BillingClient,
        cache: UpstreamCache,
        clock: Clock,
        metrics: PaymentMetrics,
        timezone: ZoneInfo,
    ) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.billing = billing
        self.cache = cache
        self.clock = clock
        self.metrics = metrics
        self.timezone = timezone
        self._inline: set[asyncio.Task[Entry]] = set()
        outbox.register(KIND, self._post)

    async def queue(self, payment: PaymentRecord) -> bool:
        """Record the booking of a succeeded payment in the outbox (once) and deliver it
        in the background; True when this call recorded it."""
        assert payment.paid_at is not None
        assert payment.acquirer_id is not None
        payload = {
            "payment_id": str(payment.id),
            "account": payment.account_number,
            "group": payment.group.value,
            "amount": str(payment.amount),
            "paid_at": payment.paid_at.isoformat(),
            "acquirer_ref": payment.acquirer_id,
        }
        entry, new = await self.outbox.record(
            KIND, payment.external_id, str(payment.id), payload, digest(payload), payment.user_id
        )
        await self.ledger.change(
            payment.id, CardPayment.booking == Booking.NONE.value, booking=Booking.QUEUED.value
        )
        if new:
            # The record is leased to us for its first attempt: deliver it now, without
            # holding up the webhook's answer; the worker takes over if this process dies.
            task = asyncio.create_task(self.outbox.deliver(entry), name=f"booking-{payment.id}")
            self._inline.add(task)
            task.add_done_callback(self._inline.discard)
        return new

    async def drain(self) -> None:
        """Wait for inline deliveries (shutdown)."""
        if self._inline:
            await asyncio.gather(*self._inline, return_exceptions=True)

    async def entry_of(self, payment: PaymentRecord) -> Entry | None:
        """The outbox row of a payment's booking, if it was queued."""
        return await self.outbox.get(payment.external_id)

    async def _post(self, payload: Mapping[str, Any], external_id: str) -> dict[str, Any]:
        """The outbox handler: hand the payment to billing's ``PostPayment``."""
        posted = await self.billing.post_payment(
            external_id,
            payload["account"],
            SupplierGroup(payload["group"]),
            Decimal(payload["amount"]),
            datetime.fromisoformat(payload["paid_at"]),
            payload["acquirer_ref"],
        )
        await self.mark_posted(uuid.UUID(payload["payment_id"]), posted.payment_id)
        self.metrics.bookings_posted += 1
        return {
            "billing_payment_id": posted.payment_id,
            "accepted_at": posted.accepted_at.isoformat(),
        }

    async def mark_posted(self, payment_id: uuid.UUID, billing_payment_id: str) -> None:
        """Billing accepted the booking: the checker will look for it."""
        await self.ledger.change(
            payment_id,
            CardPayment.booking.in_([Booking.NONE.value, Booking.QUEUED.value]),
            booking=Booking.POSTED.value,
            billing_payment_id=billing_payment_id,
            posted_at=self.clock.now(),
        )

    async def confirm(self) -> int:
        """Look up every posted booking in billing's ``GetPayments`` (one call per
        account) and mark the ones billing lists ``BOOKED``; how many were."""
        waiting = await self.ledger.where(
            CardPayment.status == PaymentStatus.SUCCEEDED.value,
            CardPayment.booking == Booking.POSTED.value,
        )
        by_account: dict[str, list[PaymentRecord]] = {}
        for payment in waiting:
            by_account.setdefault(payment.account_number, []).append(payment)
        confirmed = 0
        for number, payments in by_account.items():
            confirmed += await self._confirm_account(number, payments)
        return confirmed

    async def _confirm_account(self, number: str, payments: list[PaymentRecord]) -> int:
        today = self.clock.now().astimezone(self.timezone).date()
        since = min(p.paid_at or p.created_at for p in payments).astimezone(self.timezone).date()
        try:
            booked = await self.billing.get_payments(
                number, since - timedelta(days=1), today + timedelta(days=1)
            )
        except UpstreamUnavailable as exc:
            logger.info("booking check postponed: %s", exc)
            return 0
        by_external = {b.external_id: b for b in booked if b.external_id}
        confirmed = 0
        for payment in payments:
            found = by_external.get(payment.external_id)
            if found is None:
                continue
            moved = await self.ledger.transition(
                payment.id,
                {PaymentStatus.SUCCEEDED},
                PaymentStatus.BOOKED,
                source="booking",
                booking=Booking.BOOKED.value,
                booked_at=found.booked_at,
                billing_payment_id=found.payment_id,
                attention="",
            )
            if moved is not None:
                confirmed += 1
                self.metrics.bookings_confirmed += 1
        if confirmed:
            # The debt and the history changed in billing: the next read must see it.
            await self.cache.invalidate(BALANCES, number)
            await self.cache.invalidate(PAYMENT_HISTORY, number)
        return confirmed

    async def repair(self, payment: PaymentRecord) -> str | None:
        """Bring a succeeded payment's booking back on track; what was done, or None.
        Raises nothing: what cannot be repaired is flagged for a human."""
        entry = await self.entry_of(payment)
        if entry is None:
            await self.queue(payment)
            return "booking queued"
        if entry.state is OutboxState.DELIVERED and payment.booking is not Booking.POSTED:
            await self.mark_posted(payment.id, str((entry.result or {}).get("billing_payment_id")))
            return "booking marked posted"
        if entry.state in (OutboxState.REJECTED, OutboxState.DEAD):
            await self.ledger.flag(
                payment.id,
                f"billing did not take the booking ({entry.state.value}): {entry.last_error}",
            )
        return None
