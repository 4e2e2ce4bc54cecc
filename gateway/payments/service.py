"""Starting card payments and following them to billing (PAY-2..5).

``start`` writes the payment to the store *before* it calls the acquirer, under a unique
(user, idempotency key) pair: a repeat of the request, or twenty of them at once, finds
that row and gets its answer instead of paying twice. Only the request that inserted the
row (it holds the row's creation lease) calls the acquirer, with the row's id as the
``Idempotence-Key``, so even a retry after a lost answer is the same acquirer payment.

The acquirer then tells what happened by signed webhooks; the return page and the
reconciliation worker ask it directly when a webhook is late. Whatever the source, a
status moves only forward (:mod:`gateway.payments.ledger`), and a succeeded payment is
booked in billing through the outbox (:mod:`gateway.payments.booking`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from adapters.acquirer import (
    AcquirerClient,
    AcquirerPayment,
    AcquirerPaymentStatus,
    WebhookRejected,
    verify_webhook,
)
from adapters.billing import BillingClient, SupplierGroup
from adapters.cache import CachePolicy, UpstreamCache
from adapters.errors import LegacyError, NotFound, UpstreamRejected, UpstreamUnavailable
from gateway.accounts.service import AccountsService
from gateway.billing.history import PaymentStatus, UnbookedPayment
from gateway.clock import Clock
from gateway.errors import DomainError, ErrorCode
from gateway.identity import rules as identity_rules
from gateway.identity.sessions import Viewer
from gateway.outbox import Outbox, digest
from gateway.payments import rules
from gateway.payments.booking import Bookings
from gateway.payments.broker import PaymentEvents
from gateway.payments.ledger import PaymentLedger
from gateway.payments.metrics import PaymentMetrics
from gateway.payments.reconciliation import ReconcilePolicy, Reconciler
from gateway.payments.records import (
    FAILURE_PARTIES,
    GROUP_TITLES,
    Booking,
    PaymentRecord,
    to_kopecks,
)
from gateway.store.db import Store
from gateway.store.models import AcquirerEvent, CardPayment
from gateway.workers import stop_worker

logger = logging.getLogger(__name__)

SUPPLIERS = CachePolicy("payment-suppliers", ttl=86400, stale_ttl=30 * 86400)
"""Who is paid in each group changes with a new statement, at most monthly."""
UNBOOKED_WINDOW = timedelta(days=30)
"""How far back payments not booked by billing are shown in the history (PAY-4)."""
REFRESH_EVERY = timedelta(seconds=2)
"""The return page asks the acquirer about one payment at most this often."""


@dataclass(frozen=True)
class PaymentsPolicy:
    """The configurable parts of payments."""

    max_amount: Decimal
    return_origins: tuple[str, ...]
    """Origins a ``returnUrl`` may point at; empty: any http(s) URL."""
    public_url: str
    """The gateway as customers' browsers reach it (the return page)."""
    secret: str
    """Signs return-page links."""
    webhook_secret: str
    webhook_tolerance: timedelta
    creation_lease: timedelta
    """How long a request holds a new payment while it calls the acquirer."""
    duplicate_wait: float
    """How long a concurrent duplicate waits for the first request's answer, seconds."""
    timezone: ZoneInfo
    reconcile: ReconcilePolicy


@dataclass(frozen=True)
class Started:
    """What ``startPayment`` answers."""

    payment: PaymentRecord
    confirmation_url: str | None
    """The acquirer's card page, while the payment can be paid."""


@dataclass(frozen=True)
class GroupDue:
    """What can be paid in one supplier group (PAY-2)."""

    group: SupplierGroup
    title: str
    suppliers: tuple[str, ...]


class WebhookOutcome:
    """How a verified notification was handled (for the answer and the logs)."""

    APPLIED = "applied"
    NO_CHANGE = "no_change"
    DUPLICATE = "duplicate"
    UNKNOWN_PAYMENT = "unknown_payment"
    MISMATCH = "mismatch"


class PaymentsService:
    """Payments of the customer: start, follow, receive the acquirer's notifications."""

    def __init__(
        self,
        store: Store,
        accounts: AccountsService,
        acquirer: AcquirerClient,
        billing: BillingClient,
        outbox: Outbox,
        cache: UpstreamCache,
        clock: Clock,
        events: PaymentEvents,
        policy: PaymentsPolicy,
    ) -> None:
        self.accounts = accounts
        self.acquirer = acquirer
        self.billing = billing
        self.cache = cache
        self.clock = clock
        self.events = events
        self.policy = policy
        self.metrics = PaymentMetrics()
        self.ledger = PaymentLedger(store, clock, events, self.metrics, accounts.viewers)
        self.bookings = Bookings(
            self.ledger, outbox, billing, cache, clock, self.metrics, policy.timezone
        )
        self.reconciler = Reconciler(self, policy.reconcile)
        self._worker: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect the status fan-out and start the reconciliation worker (lifespan)."""
        await self.events.start()
        self._worker = asyncio.create_task(self.reconciler.run(), name="payment-reconciliation")

    async def close(self) -> None:
        """Stop the worker, finish inline bookings, disconnect the fan-out."""
        if self._worker is not None:
            await stop_worker(self._worker, self.reconciler.stop)
            self._worker = None
        await self.bookings.drain()
        await self.events.close()

    # --- what can be paid (PAY-2) ------------------------------------------------------

    async def groups(self, number: str) -> list[GroupDue]:
        """The four supplier groups with the suppliers of each, from the latest statement
        (cached for a day; empty lists when billing cannot say)."""
        try:
            loaded = await self.cache.get_or_load(
                SUPPLIERS, number, lambda: self._suppliers(number)
            )
            suppliers = loaded.value
        except UpstreamUnavailable:
            suppliers = {}
        return [
            GroupDue(group, GROUP_TITLES[group], tuple(suppliers.get(group.value, ())))
            for group in SupplierGroup
        ]

    async def _suppliers(self, number: str) -> dict[int, list[str]]:
        today = self.clock.now().astimezone(self.policy.timezone).date()
        try:
            statements = await self.billing.get_statements(
                number, today - timedelta(days=92), today
            )
        except NotFound:
            return {}
        found: dict[int, list[str]] = {}
        if statements:
            for line in statements[0].charges:  # the newest statement
                names = found.setdefault(line.group.value, [])
                if line.supplier not in names:
                    names.append(line.supplier)
        return found

    # --- starting a payment (PAY-3, PAY-5) ------------------------------------------

    async def start(
        self,
        viewer: Viewer,
        account_number: str,
        group: SupplierGroup,
        amount: Decimal,
        idempotency_key: str,
        return_url: str,
    ) -> Started:
        """Create a payment (or answer a repeat of the request that created it)."""
        key = rules.check_key(idempotency_key)
        number = identity_rules.check_account_number(account_number)
        params = digest(
            {
                "account": number,
                "group": group.value,
                "amount": str(amount.normalize()) if amount.is_finite() else str(amount),
                "return_url": return_url.strip(),
            }
        )
        earlier = await self.ledger.by_key(viewer.user_id, key)
        if earlier is not None:
            return await self._repeat(earlier, params)
        number = await self.accounts.require_own(viewer, number)
        amount = rules.check_amount(amount, self.policy.max_amount)
        url = rules.check_return_url(return_url, self.policy.return_origins)
        now = self.clock.now()
        payment_id = uuid.uuid4()
        row = CardPayment(
            id=payment_id,
            user_id=viewer.user_id,
            idempotency_key=key,
            params_sha256=params,
            account_number=number,
            supplier_group=group.value,
            amount_kopecks=to_kopecks(amount),
            return_url=url,
            status=PaymentStatus.PENDING.value,
            version=1,
            reason="",
            reason_party="",
            creation_lease_until=now + self.policy.creation_lease,
            creation_error="",
            external_id=str(payment_id),
            booking=Booking.NONE.value,
            attention="",
            created_at=now,
            updated_at=now,
        )
        if not await self.ledger.insert(row):  # a duplicate of this request won the race
            earlier = await self.ledger.by_key(viewer.user_id, key)
            assert earlier is not None
            return await self._repeat(earlier, params)
        return await self._create(PaymentRecord.of(row))

    async def _repeat(self, earlier: CardPayment, params: str) -> Started:
        """The answer to a repeat: the first result, once the first request has one."""
        if earlier.params_sha256 != params:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "idempotencyKey")
        deadline = time.monotonic() + self.policy.duplicate_wait
        payment_id = earlier.id
        while True:
            record = await self.ledger.get(payment_id)
            assert record is not None
            if record.acquirer_id is not None or record.status is not PaymentStatus.PENDING:
                return self._answer(record)
            if await self._take_creation(payment_id):  # the first request gave up on it
                return await self._create(record)
            if time.monotonic() > deadline:
                raise DomainError(ErrorCode.PAYMENT_IN_PROGRESS, "idempotencyKey")
            await asyncio.sleep(0.05)

    async def _take_creation(self, payment_id: uuid.UUID) -> bool:
        now = self.clock.now()
        return await self.ledger.change(
            payment_id,
            CardPayment.acquirer_id.is_(None),
            CardPayment.status == PaymentStatus.PENDING.value,
            (CardPayment.creation_lease_until.is_(None))
            | (CardPayment.creation_lease_until <= now),
            creation_lease_until=now + self.policy.creation_lease,
        )

    def _answer(self, record: PaymentRecord) -> Started:
        if record.status is PaymentStatus.FAILED and record.reason == "acquirer_refused":
            raise DomainError(ErrorCode.PAYMENT_REJECTED)
        return Started(record, record.pay_url)

    async def _create(self, record: PaymentRecord) -> Started:
        """Create the payment at the acquirer; the caller holds the creation lease."""
        try:
            created = await self.acquirer.create_payment(
                record.amount,
                idempotence_key=str(record.id),
                return_url=self.return_page_url(record.id),
                description=f"Оплата ЛС {record.account_number}: {GROUP_TITLES[record.group]}",
                metadata={
                    "payment_id": str(record.id),
                    "account": record.account_number,
                    "group": str(record.group.value),
                },
            )
        except UpstreamRejected as exc:
            logger.error(
                "acquirer refused to create a payment: %s",
                exc,
                extra={"payment_id": str(record.id)},
            )
            await self.ledger.transition(
                record.id,
                {PaymentStatus.PENDING},
                PaymentStatus.FAILED,
                source="start",
                reason="acquirer_refused",
                reason_party="gateway",
                creation_error=exc.code[:64],
                creation_lease_until=None,
            )
            raise DomainError(ErrorCode.PAYMENT_REJECTED) from exc
        except UpstreamUnavailable as exc:
            await self.ledger.change(record.id, creation_lease_until=None)
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE) from exc
        await self.ledger.change(
            record.id,
            CardPayment.acquirer_id.is_(None),
            acquirer_id=created.id,
            confirmation_url=created.confirmation_url,
            creation_lease_until=None,
            updated_at=self.clock.now(),
        )
        self.metrics.started += 1
        logger.info(
            "payment created at the acquirer",
            extra={"payment_id": str(record.id), "acquirer_id": created.id},
        )
        if created.status is not AcquirerPaymentStatus.PENDING:
            await self.apply(created, source="start")
        current = await self.ledger.get(record.id)
        assert current is not None
        return self._answer(current)

    def return_token(self, payment_id: uuid.UUID) -> str:
        """The signature that opens a payment's return page without a session."""
        message = f"payment-return:{payment_id}".encode()
        return hmac.new(self.policy.secret.encode(), message, hashlib.sha256).hexdigest()[:32]

    def return_page_url(self, payment_id: uuid.UUID) -> str:
        """Where the acquirer sends the customer back: the gateway's return page."""
        base = self.policy.public_url.rstrip("/")
        return f"{base}/payments/{payment_id}/return?sig={self.return_token(payment_id)}"

    def verify_return_token(self, payment_id: uuid.UUID, token: str) -> bool:
        """Whether a return-page link is one the gateway made."""
        return hmac.compare_digest(self.return_token(payment_id), token)

    # --- reading ---------------------------------------------------------------------

    async def get(self, payment_id: uuid.UUID) -> PaymentRecord | None:
        """One payment, whoever owns it (the caller checks access)."""
        return await self.ledger.get(payment_id)

    async def owned(self, viewer: Viewer, payment_id: str) -> PaymentRecord | None:
        """The payment if the viewer started it; None for anyone else's or a bad id."""
        try:
            parsed = uuid.UUID(payment_id)
        except ValueError:
            return None
        record = await self.ledger.get(parsed)
        if record is None or record.user_id != viewer.user_id:
            return None
        return record

    async def changes(self, payment_id: uuid.UUID, after_version: int) -> list[PaymentRecord]:
        """The payment after each change later than ``after_version``, oldest first."""
        return await self.ledger.history(payment_id, after_version)

    async def unbooked(self, account_numbers: Sequence[str]) -> dict[str, list[UnbookedPayment]]:
        """Per account, the card payments billing has not booked yet (PAY-4): waiting
        for the card, paid and on their way to billing, or canceled/failed, from the last
        30 days, newest first (the history's :class:`UnbookedPayments`)."""
        since = self.clock.now() - UNBOOKED_WINDOW
        statuses = {s for s in PaymentStatus if s is not PaymentStatus.BOOKED}
        found: dict[str, list[UnbookedPayment]] = {n: [] for n in account_numbers}
        for record in await self.ledger.of_accounts(account_numbers, statuses, since):
            found[record.account_number].append(
                UnbookedPayment(
                    id=str(record.id),
                    external_id=record.external_id,
                    account_number=record.account_number,
                    group=record.group,
                    amount=record.amount,
                    status=record.status.value,
                    created_at=record.created_at,
                    failure_reason=record.reason_text,
                )
            )
        return found

    # --- what the acquirer says ------------------------------------------------------

    async def accept_webhook(self, body: bytes, signature: str | None, delivery_id: str) -> str:
        """Handle one notification: verify it (raises :class:`WebhookRejected`), apply it
        unless it was seen before, and keep it once. Returns a :class:`WebhookOutcome`."""
        try:
            event = verify_webhook(
                body,
                signature,
                self.policy.webhook_secret,
                self.clock.now(),
                self.policy.webhook_tolerance,
            )
        except WebhookRejected as exc:
            self.metrics.webhooks_rejected += 1
            logger.warning("acquirer webhook rejected: %s", exc.reason.value)
            raise
        acquirer_id = event.payment.id
        if await self.ledger.event_seen(acquirer_id, event.type.value):
            self.metrics.webhooks_duplicate += 1
            return WebhookOutcome.DUPLICATE
        outcome = await self.apply(event.payment, source="webhook")
        kept = await self.ledger.store_event(
            AcquirerEvent(
                acquirer_id=acquirer_id,
                event=event.type.value,
                delivery_id=delivery_id[:64],
                signed_at=event.signed_at,
                received_at=self.clock.now(),
                outcome=outcome,
                body=json.loads(body),
            )
        )
        if not kept:  # the same event raced in on a parallel delivery
            self.metrics.webhooks_duplicate += 1
            return WebhookOutcome.DUPLICATE
        if outcome == WebhookOutcome.UNKNOWN_PAYMENT:
            self.metrics.webhooks_unknown += 1
        else:
            self.metrics.webhooks_accepted += 1
        return outcome

    async def apply(self, payment: AcquirerPayment, *, source: str) -> str:
        """Move our payment to what the acquirer says of it. Only forward: a late or
        repeated notice changes nothing. The acquirer is the truth about money: a payment
        we gave up on (never created, as we thought) becomes ``SUCCEEDED`` if it was paid."""
        record = await self.ledger.by_acquirer(payment.id, payment.metadata.get("payment_id"))
        if record is None:
            logger.warning(
                "acquirer reports a payment we do not know", extra={"acquirer_id": payment.id}
            )
            return WebhookOutcome.UNKNOWN_PAYMENT
        if payment.amount != record.amount:
            await self.ledger.flag(
                record.id,
                f"acquirer reports {payment.amount} for a payment of {record.amount}",
            )
            return WebhookOutcome.MISMATCH
        moved: PaymentRecord | None = None
        if payment.status is AcquirerPaymentStatus.SUCCEEDED:
            moved = await self.ledger.transition(
                record.id,
                {PaymentStatus.PENDING, PaymentStatus.CANCELED},
                PaymentStatus.SUCCEEDED,
                source=source,
                paid_at=payment.captured_at or self.clock.now(),
                confirmation_url=None,
            )
            if moved is not None:
                await self.bookings.queue(moved)
        elif payment.status is AcquirerPaymentStatus.CANCELED:
            cancellation = payment.cancellation
            party = cancellation.party.value if cancellation else ""
            failed = party in FAILURE_PARTIES
            moved = await self.ledger.transition(
                record.id,
                {PaymentStatus.PENDING},
                PaymentStatus.FAILED if failed else PaymentStatus.CANCELED,
                source=source,
                reason=cancellation.reason if cancellation else "",
                reason_party=party,
                confirmation_url=None,
            )
        return WebhookOutcome.APPLIED if moved is not None else WebhookOutcome.NO_CHANGE

    async def refresh(self, record: PaymentRecord, *, source: str) -> PaymentRecord:
        """Ask the acquirer about a pending payment now (at most every two seconds per
        payment), for a customer who is looking at it and whose webhook is late."""
        if record.status is not PaymentStatus.PENDING or record.acquirer_id is None:
            return record
        now = self.clock.now()
        asked = await self.ledger.change(
            record.id,
            (CardPayment.checked_at.is_(None)) | (CardPayment.checked_at <= now - REFRESH_EVERY),
            checked_at=now,
        )
        if not asked:
            return record
        try:
            await self.apply(await self.acquirer.get_payment(record.acquirer_id), source=source)
        except LegacyError as exc:  # the webhook or reconciliation will tell later
            logger.info("payment refresh failed: %s", exc, extra={"payment_id": str(record.id)})
        return await self.ledger.get(record.id) or record
