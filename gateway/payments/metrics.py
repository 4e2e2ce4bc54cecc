"""Counters of the payments domain, read by the Prometheus collector at scrape time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PaymentMetrics:
    """Plain integers: counters only grow; ``unrepaired`` is a gauge (payments that need
    a human now, recounted on every reconciliation pass)."""

    started: int = 0
    """Payments created at the acquirer."""
    webhooks_accepted: int = 0
    """Verified notifications handled for the first time."""
    webhooks_duplicate: int = 0
    """Verified notifications seen before (answered 200, nothing changed)."""
    webhooks_rejected: int = 0
    """Notifications refused: unsigned, forged, stale or unreadable."""
    webhooks_unknown: int = 0
    """Verified notifications about a payment the gateway does not know."""
    bookings_posted: int = 0
    """Payments billing accepted through ``PostPayment``."""
    bookings_confirmed: int = 0
    """Payments billing showed as booked (``BOOKED``)."""
    repaired: int = 0
    """States reconciliation repaired (a lost webhook, an unqueued booking, …)."""
    attention_flagged: int = 0
    """Payments reconciliation could not repair and flagged for a human."""
    unrepaired: int = 0
    """Payments flagged for a human and not resolved since (gauge)."""
