"""Verifying the acquirer's webhook notifications (a pure function, no I/O).

The acquirer signs each notification it POSTs::

    X-Acquirer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

Several ``v1=`` entries may appear while the acquirer rotates its secret; one match is
enough. The timestamp bounds replays: a notification signed outside the tolerance is
refused even when its signature is right.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from adapters.acquirer.client import parse_payment
from adapters.acquirer.models import WebhookEvent, WebhookEventType
from adapters.errors import UpstreamMalformed

SIGNATURE_HEADER = "X-Acquirer-Signature"
"""The header that carries the signature."""


class WebhookRejectReason(StrEnum):
    """Why a notification was refused."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    WRONG_SIGNATURE = "wrong_signature"
    STALE_SIGNATURE = "stale_signature"
    """Signed too long ago (or in the future): a replay, or clocks far apart."""
    MALFORMED_BODY = "malformed_body"
    """Signed correctly, but not a notification this adapter understands."""


class WebhookRejected(Exception):
    """A notification that must not be trusted or cannot be read; answer it with 4xx."""

    def __init__(self, reason: WebhookRejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookRejected(WebhookRejectReason.MALFORMED_SIGNATURE, "expected key=value")
        if name == "t":
            if not value.isdigit():
                raise WebhookRejected(WebhookRejectReason.MALFORMED_SIGNATURE, "bad timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookRejected(WebhookRejectReason.MALFORMED_SIGNATURE, "needs t= and v1=")
    return timestamp, signatures


def verify_webhook(
    body: bytes,
    signature_header: str | None,
    secret: str,
    now: datetime,
    tolerance: timedelta,
) -> WebhookEvent:
    """Check a notification's signature and age, then parse it.

    ``body`` must be the raw bytes received (not re-serialised JSON). Raises
    :class:`WebhookRejected` for a missing, malformed, wrong or stale signature, or a
    body that is not a payment notification. Signatures are compared in constant time.
    """
    if not signature_header:
        raise WebhookRejected(WebhookRejectReason.MISSING_SIGNATURE)
    timestamp, signatures = _parse_header(signature_header)
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise WebhookRejected(WebhookRejectReason.WRONG_SIGNATURE)
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    if abs(now - signed_at) > tolerance:
        raise WebhookRejected(
            WebhookRejectReason.STALE_SIGNATURE, f"signed at {signed_at.isoformat()}"
        )
    try:
        notification = json.loads(body)
        if not isinstance(notification, dict) or notification.get("type") != "notification":
            raise ValueError("not a notification")
        event_type = WebhookEventType(notification["event"])
        payment = parse_payment(notification["object"])
    except (ValueError, KeyError, TypeError, UpstreamMalformed) as exc:
        raise WebhookRejected(WebhookRejectReason.MALFORMED_BODY, str(exc)) from exc
    return WebhookEvent(type=event_type, payment=payment, signed_at=signed_at)
