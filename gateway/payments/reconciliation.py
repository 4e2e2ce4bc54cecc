"""Reconciliation (PAY-5): payments stuck between the acquirer and billing are found and
repaired; what cannot be repaired is flagged, logged at ERROR and counted for a human.

The worker runs in the lifespan of every replica. Each pass first confirms posted bookings
in billing (``GetPayments``, the only way a payment becomes ``BOOKED``), and every
``scan_every`` seconds looks for payments that stayed too long in one state:

- created by us but never at the acquirer (its creation answer never came) → ``CANCELED``:
  the customer never saw the card page, so nothing can have been paid;
- pending at the acquirer with no webhook → the acquirer is asked (``GET
  /v3/payments/{id}``) and its answer applied, exactly as a webhook would be;
- succeeded but not on its way to billing (a crash between the two) → the booking is queued;
  refused by billing, or dead in the outbox → flagged;
- accepted by billing but never listed by ``GetPayments`` → flagged.

Every repair goes through the same forward-only transitions as webhooks, so replicas
reconciling at once, or a webhook landing mid-pass, cannot move a payment twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.errors import NotFound, UpstreamUnavailable
from gateway.billing.history import PaymentStatus
from gateway.payments.records import Booking
from gateway.store.models import CardPayment

if TYPE_CHECKING:
    from gateway.payments.service import PaymentsService

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcilePolicy:
    """When a payment counts as stuck, and how often the worker looks."""

    stuck_after: timedelta
    scan_every: float
    """Seconds between scans for stuck payments."""
    booking_check_every: float
    """Seconds between looks at billing for posted bookings."""


class Reconciler:
    """The reconciliation worker of payments."""

    def __init__(self, service: PaymentsService, policy: ReconcilePolicy) -> None:
        self.service = service
        self.policy = policy
        self._wake = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        """Let the worker finish its pass and leave (shutdown)."""
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        """Run a pass now (tests, operators)."""
        self._wake.set()

    async def run(self) -> None:
        """Confirm bookings and repair stuck payments until cancelled."""
        logger.info("payment reconciliation started")
        last_scan = float("-inf")
        # A stop asked before the first pass, or during one, is kept (see Outbox.run).
        while not self._stopping:
            self._wake.clear()
            try:
                await self.service.bookings.confirm()
                if time.monotonic() - last_scan >= self.policy.scan_every:
                    last_scan = time.monotonic()
                    await self.reconcile_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("payment reconciliation pass failed")
            with contextlib.suppress(TimeoutError):  # a stop during the pass set the event
                await asyncio.wait_for(self._wake.wait(), timeout=self.policy.booking_check_every)

    async def reconcile_once(self) -> int:
        """One scan for stuck payments; how many were repaired."""
        service = self.service
        ledger = service.ledger
        now = service.clock.now()
        stuck = now - self.policy.stuck_after
        repaired = 0

        never_created = await ledger.where(
            CardPayment.status == PaymentStatus.PENDING.value,
            CardPayment.acquirer_id.is_(None),
            CardPayment.created_at <= stuck,
            (CardPayment.creation_lease_until.is_(None))
            | (CardPayment.creation_lease_until <= now),
        )
        for payment in never_created:
            moved = await ledger.transition(
                payment.id,
                {PaymentStatus.PENDING},
                PaymentStatus.CANCELED,
                source="reconciliation",
                reason="not_created",
                when=[CardPayment.acquirer_id.is_(None)],
                reason_party="gateway",
            )
            repaired += moved is not None

        silent = await ledger.where(
            CardPayment.status == PaymentStatus.PENDING.value,
            CardPayment.acquirer_id.is_not(None),
            CardPayment.updated_at <= stuck,
            (CardPayment.checked_at.is_(None)) | (CardPayment.checked_at <= stuck),
        )
        for payment in silent:
            assert payment.acquirer_id is not None
            await ledger.change(payment.id, checked_at=now)
            try:
                found = await service.acquirer.get_payment(payment.acquirer_id)
            except NotFound:
                await ledger.flag(payment.id, "the acquirer does not know this payment")
                continue
            except UpstreamUnavailable as exc:
                logger.info("reconciliation postponed: %s", exc)
                break
            outcome = await service.apply(found, source="reconciliation")
            repaired += outcome == "applied"

        succeeded = await ledger.where(
            CardPayment.status == PaymentStatus.SUCCEEDED.value,
            CardPayment.attention == "",
            CardPayment.updated_at <= stuck,
        )
        for payment in succeeded:
            if payment.booking is Booking.POSTED:
                posted = await ledger.where(
                    CardPayment.id == payment.id, CardPayment.posted_at <= stuck
                )
                if posted:
                    await ledger.flag(
                        payment.id, "billing accepted the booking but does not list it as booked"
                    )
                continue
            done = await service.bookings.repair(payment)
            if done is not None:
                logger.warning("payment repaired: %s", done, extra={"payment_id": str(payment.id)})
                repaired += 1

        if repaired:
            logger.warning("reconciliation repaired %d payment(s)", repaired)
        service.metrics.repaired += repaired
        service.metrics.unrepaired = await ledger.count(
            CardPayment.attention != "", CardPayment.status != PaymentStatus.BOOKED.value
        )
        return repaired
