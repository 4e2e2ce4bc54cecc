"""The card acquirer's adapter: payments over its REST API v3 and its signed webhooks."""

from adapters.acquirer.client import AcquirerClient, parse_payment
from adapters.acquirer.models import (
    CANCELLATION_REASONS,
    AcquirerPayment,
    AcquirerPaymentStatus,
    Cancellation,
    CancellationParty,
    CardSummary,
    WebhookEvent,
    WebhookEventType,
)
from adapters.acquirer.webhooks import (
    SIGNATURE_HEADER,
    WebhookRejected,
    WebhookRejectReason,
    verify_webhook,
)

__all__ = [
    "CANCELLATION_REASONS",
    "SIGNATURE_HEADER",
    "AcquirerClient",
    "AcquirerPayment",
    "AcquirerPaymentStatus",
    "Cancellation",
    "CancellationParty",
    "CardSummary",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookRejectReason",
    "WebhookRejected",
    "parse_payment",
    "verify_webhook",
]
