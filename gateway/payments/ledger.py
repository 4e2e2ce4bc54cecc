"""The store side of payments: rows, status transitions and their announcement.

Every status change is one conditional ``UPDATE … WHERE status IN (…)`` with its
:class:`~gateway.store.models.PaymentTransition` row in the same transaction, so that a
webhook, the return page and the reconciliation worker racing on one payment (on one
replica or several) move it once, and every change is announced once, after its commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from gateway.billing.history import PaymentStatus
from gateway.clock import Clock
from gateway.identity.viewer_cache import ViewerCache
from gateway.payments.broker import PaymentEvents
from gateway.payments.metrics import PaymentMetrics
from gateway.payments.records import PaymentRecord
from gateway.store.db import Store
from gateway.store.models import AcquirerEvent, CardPayment, PaymentTransition

logger = logging.getLogger(__name__)


class PaymentLedger:
    """Reads and changes payment rows; announces status changes."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        events: PaymentEvents,
        metrics: PaymentMetrics,
        viewers: ViewerCache | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.metrics = metrics
        self.viewers = viewers or ViewerCache(0)
        """Told of each change, so that no answer kept for the payer shows the old status."""

    # --- reading ---------------------------------------------------------------------

    async def get(self, payment_id: uuid.UUID) -> PaymentRecord | None:
        """One payment."""
        async with self.store.reading_session() as db:
            row = await db.get(CardPayment, payment_id)
            return PaymentRecord.of(row) if row is not None else None

    async def by_key(self, user_id: uuid.UUID, key: str) -> CardPayment | None:
        """The payment a user started with an idempotency key."""
        async with self.store.session() as db:
            row: CardPayment | None = await db.scalar(
                select(CardPayment).where(
                    CardPayment.user_id == user_id, CardPayment.idempotency_key == key
                )
            )
            return row

    async def by_acquirer(self, acquirer_id: str, payment_id: str | None) -> PaymentRecord | None:
        """The payment the acquirer knows as ``acquirer_id``; failing that, the one its
        metadata names (``payment_id``) if the acquirer's id was never recorded for it
        (its creation answer was lost)."""
        async with self.store.session() as db:
            row = await db.scalar(select(CardPayment).where(CardPayment.acquirer_id == acquirer_id))
            if row is None and payment_id:
                try:
                    candidate = await db.get(CardPayment, uuid.UUID(payment_id))
                except ValueError:
                    candidate = None
                if candidate is not None and candidate.acquirer_id in (None, acquirer_id):
                    candidate.acquirer_id = acquirer_id
                    row = candidate
            return PaymentRecord.of(row) if row is not None else None

    async def where(self, *conditions: Any, limit: int = 200) -> list[PaymentRecord]:
        """Payments matching SQLAlchemy conditions, oldest change first."""
        async with self.store.reading_session() as db:
            rows = await db.scalars(
                select(CardPayment).where(*conditions).order_by(CardPayment.updated_at).limit(limit)
            )
            return [PaymentRecord.of(row) for row in rows]

    async def count(self, *conditions: Any) -> int:
        """How many payments match."""
        async with self.store.reading_session() as db:
            found = await db.scalar(
                select(func.count()).select_from(CardPayment).where(*conditions)
            )
            return int(found or 0)

    async def history(self, payment_id: uuid.UUID, after_version: int) -> list[PaymentRecord]:
        """The payment as it was after each of its changes later than ``after_version``."""
        async with self.store.reading_session() as db:
            row = await db.get(CardPayment, payment_id)
            if row is None:
                return []
            current = PaymentRecord.of(row)
            transitions = await db.scalars(
                select(PaymentTransition)
                .where(
                    PaymentTransition.payment_id == payment_id,
                    PaymentTransition.version > after_version,
                )
                .order_by(PaymentTransition.version)
            )
            return [current.as_of(t) for t in transitions]

    async def of_accounts(
        self, numbers: Sequence[str], statuses: Collection[PaymentStatus], since: datetime
    ) -> list[PaymentRecord]:
        """Payments of some accounts in some statuses started since a moment, newest first."""
        async with self.store.reading_session() as db:
            rows = await db.scalars(
                select(CardPayment)
                .where(
                    CardPayment.account_number.in_(list(numbers)),
                    CardPayment.status.in_([s.value for s in statuses]),
                    CardPayment.created_at >= since,
                )
                .order_by(CardPayment.created_at.desc())
            )
            return [PaymentRecord.of(row) for row in rows]

    # --- writing ---------------------------------------------------------------------

    async def insert(self, row: CardPayment) -> bool:
        """Record a new payment with its first transition; False when the user's key
        is taken already (a duplicate request won the race)."""
        try:
            async with self.store.session() as db:
                db.add(row)
                await db.flush()
                db.add(
                    PaymentTransition(
                        payment_id=row.id,
                        version=row.version,
                        status=row.status,
                        reason=row.reason,
                        source="start",
                        at=row.created_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def change(self, payment_id: uuid.UUID, *conditions: Any, **values: Any) -> bool:
        """Set fields that are not the status, if the row still matches ``conditions``."""
        async with self.store.session() as db:
            done = await db.execute(
                update(CardPayment)
                .where(CardPayment.id == payment_id, *conditions)
                .values(**values)
            )
            changed: bool = done.rowcount == 1  # type: ignore[attr-defined]
            return changed

    async def transition(
        self,
        payment_id: uuid.UUID,
        allowed_from: Collection[PaymentStatus],
        to: PaymentStatus,
        *,
        source: str,
        reason: str = "",
        when: Sequence[Any] = (),
        **values: Any,
    ) -> PaymentRecord | None:
        """Move a payment to ``to`` if it is in one of ``allowed_from`` (and matches the
        extra conditions ``when``); the payment after the change, or None when it was not
        in such a state (someone else moved it)."""
        now = self.clock.now()
        async with self.store.session() as db:
            done = await db.execute(
                update(CardPayment)
                .where(
                    CardPayment.id == payment_id,
                    CardPayment.status.in_([s.value for s in allowed_from]),
                    *when,
                )
                .values(
                    status=to.value,
                    version=CardPayment.version + 1,
                    reason=reason,
                    updated_at=now,
                    **values,
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await db.get(CardPayment, payment_id, populate_existing=True)
            assert row is not None
            db.add(
                PaymentTransition(
                    payment_id=payment_id,
                    version=row.version,
                    status=to.value,
                    reason=reason,
                    source=source,
                    at=now,
                )
            )
            moved = PaymentRecord.of(row)
        logger.info(
            "payment status changed",
            extra={
                "payment_id": str(payment_id),
                "status": to.value,
                "source": source,
                "reason": reason,
            },
        )
        await self.events.publish(payment_id, moved.version)
        if moved.user_id is not None:
            await self.viewers.answers_changed(moved.user_id)
        return moved

    async def flag(self, payment_id: uuid.UUID, why: str) -> bool:
        """Mark a payment for a human (once): logged at ERROR and counted."""
        flagged = await self.change(payment_id, CardPayment.attention == "", attention=why[:300])
        if flagged:
            self.metrics.attention_flagged += 1
            logger.error("payment needs a human: %s", why, extra={"payment_id": str(payment_id)})
        return flagged

    async def event_seen(self, acquirer_id: str, event: str) -> bool:
        """Whether this notification was stored already."""
        async with self.store.session() as db:
            found = await db.scalar(
                select(AcquirerEvent.id).where(
                    AcquirerEvent.acquirer_id == acquirer_id, AcquirerEvent.event == event
                )
            )
            return found is not None

    async def store_event(self, event: AcquirerEvent) -> bool:
        """Keep a notification once; False when it was kept already."""
        try:
            async with self.store.session() as db:
                db.add(event)
        except IntegrityError:
            return False
        return True
