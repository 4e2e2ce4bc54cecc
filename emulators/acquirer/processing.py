"""The processor behind the acquirer: what happens to a payment when a card is entered.

The hosted pages and the admin helper (``POST /_admin/payments/{id}/complete``) walk the
same steps here, so a test without a browser sees exactly what a customer would cause.
Every status change is announced to the shop by a webhook.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from emulators.acquirer.cards import THREE_DS_CODE, CardError, CardOutcome, parse_card
from emulators.acquirer.store import NewPayment, PaymentRow, PaymentStore, Remembered, Stage
from emulators.acquirer.store import render_payment as _render
from emulators.acquirer.webhooks import WebhookSender
from emulators.base import Clock

logger = logging.getLogger(__name__)

IDEMPOTENCE_TTL_SECONDS = 24 * 3600.0
"""How long an ``Idempotence-Key`` remembers its first answer."""


class Party:
    """Who canceled a payment (``cancellation_details.party``)."""

    MERCHANT = "merchant"
    ACQUIRER = "yoo_money"
    """The acquirer itself (the API keeps the name of the service it is modelled on)."""
    PAYMENT_NETWORK = "payment_network"


@dataclass
class ProcessingSettings:
    """Timings of the processor; changed by ``PUT /_admin/processing``."""

    processing_timeout_seconds: float = 30.0
    """How long a payment paid by the time-out card waits before it expires."""
    confirmation_ttl_seconds: float = 3600.0
    """How long a payment waits for its customer before it expires unconfirmed."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown knobs or bad values raise ``ValueError``."""
        known = {f.name for f in fields(self)}
        staged = asdict(self)
        for name, raw in changes.items():
            if name not in known:
                raise ValueError(f"unknown processing knob {name!r}; known: {sorted(known)}")
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
                raise ValueError(f"{name} must be a non-negative number")
            staged[name] = float(raw)
        for name, value in staged.items():
            setattr(self, name, value)


class WrongStage(Exception):
    """The payment is not waiting for this step (already paid, canceled, or elsewhere)."""

    def __init__(self, payment: PaymentRow) -> None:
        super().__init__(f"payment {payment.id} is {payment.status} at stage {payment.stage}")
        self.payment = payment


class UnknownPayment(LookupError):
    """No payment has this id."""


class Processor:
    """Creates payments, takes cards and 3-D Secure codes, expires what waited too long."""

    def __init__(
        self,
        store: PaymentStore,
        clock: Clock,
        webhooks: WebhookSender,
        *,
        base_url: str,
        shop_id: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self.webhooks = webhooks
        self.base_url = base_url
        self.shop_id = shop_id
        self.settings = ProcessingSettings()

    def render(self, payment: PaymentRow) -> dict[str, Any]:
        """The payment as the API shows it."""
        return _render(payment, base_url=self.base_url, shop_id=self.shop_id)

    def create(self, request: NewPayment, *, key: str, fingerprint: str) -> tuple[Remembered, bool]:
        """A new pending payment under ``key``, or the first answer ``key`` got."""
        now = self.clock.now()
        return self.store.create(
            request,
            key=key,
            fingerprint=fingerprint,
            now=now,
            expires_at=now + timedelta(seconds=self.settings.confirmation_ttl_seconds),
            key_ttl_seconds=IDEMPOTENCE_TTL_SECONDS,
            render=self.render,
        )

    def current(self, payment_id: str) -> PaymentRow:
        """The payment now (expired first if its time is over)."""
        payment = self.store.get(payment_id)
        if payment is None:
            raise UnknownPayment(payment_id)
        if payment.status == "pending" and payment.expires_at <= self.clock.now():
            self._expire(payment_id)
            payment = self.store.get(payment_id)
            assert payment is not None
        return payment

    def submit_card(self, payment_id: str, number: str, expiry: str, cvc: str) -> PaymentRow:
        """The customer posts the card form: check it, then authorise, decline, ask for
        3-D Secure or hang, as the test card says. :class:`CardError` changes nothing."""
        payment = self.current(payment_id)
        if payment.stage != Stage.CARD:
            raise WrongStage(payment)
        card = parse_card(number, expiry, cvc, today=self.clock.today())
        outcome = card.outcome
        if outcome is None:
            raise CardError(
                "card_number",
                "Магазин работает в тестовом режиме: оплатить можно только тестовой картой",
            )
        next_stage = Stage.THREE_DS if outcome is CardOutcome.NEEDS_3DS else Stage.PROCESSING
        deadline = None
        if outcome is CardOutcome.TIMES_OUT:
            deadline = self.clock.now() + timedelta(
                seconds=self.settings.processing_timeout_seconds
            )
        attached = self.store.attach_card(
            payment_id,
            first6=card.first6,
            last4=card.last4,
            card_type=card.card_type,
            stage=next_stage,
            expires_at=deadline,
        )
        if not attached:
            raise WrongStage(self.current(payment_id))
        if outcome is CardOutcome.SUCCEEDS:
            self._succeed(payment_id, three_ds=False)
        elif outcome is CardOutcome.DECLINED:
            self._cancel(payment_id, Party.PAYMENT_NETWORK, "insufficient_funds")
        return self.current(payment_id)

    def submit_code(self, payment_id: str, code: str | None) -> PaymentRow:
        """The customer answers the issuer's 3-D Secure page; ``None``: pressed "cancel".
        A right code authorises the payment, anything else cancels it."""
        payment = self.current(payment_id)
        if payment.stage != Stage.THREE_DS:
            raise WrongStage(payment)
        if code is not None and code.strip() == THREE_DS_CODE:
            self._succeed(payment_id, three_ds=True)
        else:
            self._cancel(payment_id, Party.PAYMENT_NETWORK, "3d_secure_failed")
        return self.current(payment_id)

    def expire_due(self) -> int:
        """Cancel every pending payment whose time is over; how many were canceled."""
        return sum(1 for payment_id in self.store.due(self.clock.now()) if self._expire(payment_id))

    async def sweep(self, interval: float = 0.1) -> None:
        """Expire due payments for ever (the emulator's background sweeper)."""
        while True:
            try:
                self.expire_due()
            except Exception:  # the sweeper must outlive one bad round
                logger.exception("acquirer expiry sweep failed")
            await asyncio.sleep(interval)

    def _expire(self, payment_id: str) -> bool:
        return self._cancel(payment_id, Party.ACQUIRER, "expired_on_confirmation")

    def _succeed(self, payment_id: str, *, three_ds: bool) -> bool:
        changed = self.store.succeed(
            payment_id,
            now=self.clock.now(),
            rrn=f"{secrets.randbelow(10**12):012d}",
            auth_code=f"{secrets.randbelow(10**6):06d}",
            three_ds=three_ds,
        )
        if changed:
            self._announce(payment_id)
        return changed

    def _cancel(self, payment_id: str, party: str, reason: str) -> bool:
        changed = self.store.cancel(payment_id, party=party, reason=reason)
        if changed:
            self._announce(payment_id)
        return changed

    def _announce(self, payment_id: str) -> None:
        payment = self.store.get(payment_id)
        assert payment is not None
        logger.info("acquirer payment %s is %s", payment_id, payment.status)
        self.webhooks.publish(f"payment.{payment.status}", self.render(payment))
