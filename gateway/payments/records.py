"""What a card payment is to the domain: its status, its group, and the record the schema
shows, with the Russian words the customer reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from adapters.acquirer import CANCELLATION_REASONS, CancellationParty
from adapters.billing import SupplierGroup
from gateway.billing.history import PaymentStatus
from gateway.store.models import CardPayment, PaymentTransition

CENT = Decimal("0.01")


FINAL = frozenset({PaymentStatus.BOOKED, PaymentStatus.CANCELED, PaymentStatus.FAILED})
"""Statuses after which nothing more happens to a payment.

``PENDING → SUCCEEDED → BOOKED``; or ``PENDING → CANCELED`` (nobody refused it: the
customer did not finish, time ran out, or it could not be created) or ``PENDING → FAILED``
(the card's bank, the payment network or the acquirer refused it)."""


class Booking(StrEnum):
    """How far the booking in billing has got (internal; the status says it to clients)."""

    NONE = "none"
    QUEUED = "queued"
    """In the outbox, on its way to billing's ``PostPayment``."""
    POSTED = "posted"
    """Billing accepted it; it shows in ``GetPayments`` after billing's booking delay."""
    BOOKED = "booked"


GROUP_TITLES: dict[SupplierGroup, str] = {
    SupplierGroup.HOUSING: "ЖКУ (сплит-платёж)",
    SupplierGroup.HOUSING_SEPARATE: "ЖКУ (поставщики с отдельной оплатой)",
    SupplierGroup.SOLID_WASTE: "Региональный оператор ТКО",
    SupplierGroup.CAPITAL_REPAIR: "Капитальный ремонт",
}
"""How the app names the supplier groups of PAY-2."""

STATUS_TEXTS: dict[PaymentStatus, str] = {
    PaymentStatus.PENDING: "Ожидает оплаты",
    PaymentStatus.SUCCEEDED: "Оплачен, ожидает зачисления",
    PaymentStatus.BOOKED: "Зачислен",
    PaymentStatus.CANCELED: "Отменён",
    PaymentStatus.FAILED: "Не выполнен",
}
"""The status in Russian, as the return page and the app show it."""

OWN_REASONS: dict[str, str] = {
    "not_created": "Платёж не был создан: платёжный сервис не ответил. Деньги не списаны",
    "acquirer_refused": "Платёжный сервис отклонил платёж. Деньги не списаны",
}
"""Reasons the gateway itself gives (the acquirer's are in ``CANCELLATION_REASONS``)."""

FAILURE_PARTIES = frozenset({CancellationParty.PAYMENT_NETWORK.value, "gateway"})
"""A cancellation by these parties is a refusal (``FAILED``); by the customer, the shop or
the acquirer's timer it is a ``CANCELED`` payment."""


def reason_text(reason: str) -> str | None:
    """The reason of a canceled or failed payment in Russian."""
    if not reason:
        return None
    if reason in OWN_REASONS:
        return OWN_REASONS[reason]
    return CANCELLATION_REASONS.get(
        reason, "Платёж не прошёл. Попробуйте ещё раз или выберите другую карту"
    )


def to_kopecks(amount: Decimal) -> int:
    """Roubles (at most two decimals) as kopecks."""
    return int((amount * 100).to_integral_value())


def to_roubles(kopecks: int) -> Decimal:
    """Kopecks as roubles with two decimals."""
    return (Decimal(kopecks) / 100).quantize(CENT)


@dataclass(frozen=True)
class PaymentRecord:
    """A card payment as the domain and the schema see it."""

    id: uuid.UUID
    user_id: uuid.UUID | None
    account_number: str
    group: SupplierGroup
    amount: Decimal
    status: PaymentStatus
    version: int
    reason: str
    """The acquirer's cancellation code or one of :data:`OWN_REASONS`; empty otherwise."""
    acquirer_id: str | None
    confirmation_url: str | None
    return_url: str
    external_id: str
    booking: Booking
    paid_at: datetime | None
    booked_at: datetime | None
    billing_payment_id: str | None
    attention: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CardPayment) -> PaymentRecord:
        """Map a row."""
        return cls(
            id=row.id,
            user_id=row.user_id,
            account_number=row.account_number,
            group=SupplierGroup(row.supplier_group),
            amount=to_roubles(row.amount_kopecks),
            status=PaymentStatus(row.status),
            version=row.version,
            reason=row.reason,
            acquirer_id=row.acquirer_id,
            confirmation_url=row.confirmation_url,
            return_url=row.return_url,
            external_id=row.external_id,
            booking=Booking(row.booking),
            paid_at=row.paid_at,
            booked_at=row.booked_at,
            billing_payment_id=row.billing_payment_id,
            attention=row.attention,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to it."""
        return self.status in FINAL

    @property
    def status_text(self) -> str:
        """The status in Russian."""
        return STATUS_TEXTS[self.status]

    @property
    def reason_text(self) -> str | None:
        """Why it was canceled or failed, in Russian."""
        if self.status not in (PaymentStatus.CANCELED, PaymentStatus.FAILED):
            return None
        return reason_text(self.reason)

    @property
    def pay_url(self) -> str | None:
        """The acquirer's card page while the customer can still pay there."""
        return self.confirmation_url if self.status is PaymentStatus.PENDING else None

    def as_of(self, transition: PaymentTransition) -> PaymentRecord:
        """The payment as it was right after ``transition`` (live subscriptions replay
        every change, not only the last)."""
        status = PaymentStatus(transition.status)
        return replace(
            self,
            status=status,
            version=transition.version,
            reason=transition.reason,
            booked_at=self.booked_at if status is PaymentStatus.BOOKED else None,
            updated_at=transition.at,
        )
