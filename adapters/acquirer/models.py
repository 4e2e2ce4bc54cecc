"""Clean records of the acquirer: what a payment is, once its JSON quirks are absorbed.

The acquirer writes amounts as strings (``"123.45"``), times in UTC with milliseconds and
a ``Z``, keeps metadata values as strings, shows ``confirmation`` only while a payment is
pending and ``cancellation_details`` only once it is canceled. Here they become
:class:`~decimal.Decimal`, aware :class:`~datetime.datetime`, enums and optionals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class AcquirerPaymentStatus(StrEnum):
    """Where a card payment is at the acquirer."""

    PENDING = "pending"
    """Created; the customer has not paid yet (or the bank has not answered)."""
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    """Authorised, waiting to be captured (two-stage payments only)."""
    SUCCEEDED = "succeeded"
    """Paid: the money is taken. Final."""
    CANCELED = "canceled"
    """Not paid: declined, failed 3-D Secure, expired. Final; see the cancellation."""

    @property
    def is_final(self) -> bool:
        """Succeeded or canceled: the status will not change any more."""
        return self in (AcquirerPaymentStatus.SUCCEEDED, AcquirerPaymentStatus.CANCELED)


class CancellationParty(StrEnum):
    """Who canceled a payment."""

    MERCHANT = "merchant"
    """The shop (us)."""
    ACQUIRER = "yoo_money"
    """The acquirer itself (its API names it after the service it is modelled on)."""
    PAYMENT_NETWORK = "payment_network"
    """The card's issuer, the card network or another participant."""


CANCELLATION_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "3d_secure_failed": "Не пройдена проверка 3-D Secure. Попробуйте ещё раз или "
        "обратитесь в банк, выпустивший карту",
        "call_issuer": "Банк отклонил платёж. Обратитесь в банк, выпустивший карту",
        "canceled_by_merchant": "Платёж отменён продавцом",
        "card_expired": "Истёк срок действия карты. Оплатите другой картой",
        "country_forbidden": "Оплата картами этой страны не принимается",
        "deal_expired": "Истёк срок сделки",
        "expired_on_capture": "Истёк срок подтверждения платежа продавцом",
        "expired_on_confirmation": "Истекло время на оплату: платёж не был подтверждён вовремя",
        "fraud_suspected": "Платёж заблокирован из-за подозрения в мошенничестве",
        "general_decline": "Платёж отклонён. Попробуйте другую карту или обратитесь в банк",
        "identification_required": "Превышены ограничения для неидентифицированного кошелька",
        "insufficient_funds": "Недостаточно средств на карте",
        "internal_timeout": "Технический сбой при оплате. Попробуйте ещё раз",
        "invalid_card_number": "Неверный номер карты",
        "invalid_csc": "Неверный код CVC/CVV",
        "issuer_unavailable": "Банк, выпустивший карту, недоступен. Попробуйте позже",
        "payment_method_limit_exceeded": "Превышен лимит операций по карте",
        "payment_method_restricted": "Операции по карте запрещены банком",
        "permission_revoked": "Разрешение на списание отозвано",
        "unsupported_mobile_operator": "Оплата через этого мобильного оператора невозможна",
    }
)
"""The acquirer's cancellation reason codes, and what to tell the customer in Russian."""

UNKNOWN_REASON_TEXT = "Платёж не прошёл. Попробуйте ещё раз или выберите другую карту"
"""What to say for a reason code the table does not know yet."""


@dataclass(frozen=True)
class Cancellation:
    """Why a payment was canceled: who did it and the reason code."""

    party: CancellationParty
    reason: str
    """The acquirer's reason code, e.g. ``insufficient_funds``; see :data:`CANCELLATION_REASONS`."""

    @property
    def description(self) -> str:
        """The reason in Russian, for the customer."""
        return CANCELLATION_REASONS.get(self.reason, UNKNOWN_REASON_TEXT)


@dataclass(frozen=True)
class CardSummary:
    """The safe parts of the card that paid (never the full number)."""

    first6: str
    last4: str
    card_type: str
    """``Visa``, ``MasterCard``, ``Mir`` or ``Unknown``."""


@dataclass(frozen=True)
class AcquirerPayment:
    """A card payment as the acquirer knows it now."""

    id: str
    status: AcquirerPaymentStatus
    amount: Decimal
    """Roubles, two decimals."""
    paid: bool
    created_at: datetime
    """Aware (UTC)."""
    confirmation_url: str | None
    """Where to send the customer to pay; only while the payment is pending."""
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cancellation: Cancellation | None = None
    """Set only when the payment is canceled."""
    card: CardSummary | None = None
    """Set once a card was entered."""
    captured_at: datetime | None = None
    """When the money was taken (succeeded payments)."""
    test: bool = False
    """A payment of the acquirer's test mode (no real money)."""


class WebhookEventType(StrEnum):
    """The notifications the acquirer sends."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_WAITING_FOR_CAPTURE = "payment.waiting_for_capture"
    PAYMENT_CANCELED = "payment.canceled"


@dataclass(frozen=True)
class WebhookEvent:
    """A verified notification: what happened, to which payment, and when it was signed."""

    type: WebhookEventType
    payment: AcquirerPayment
    signed_at: datetime
    """The signature's timestamp (aware, UTC)."""
