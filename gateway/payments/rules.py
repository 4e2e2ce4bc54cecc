"""The rules of starting a payment (PAY-2, PAY-5), pure so that they are tested alone."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

from gateway.errors import DomainError, ErrorCode

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""An idempotency key: what a UUID (or a ULID, or most clients' keys) looks like."""
MAX_URL = 2048
"""The acquirer takes return URLs up to this length."""
CENT = Decimal("0.01")


def check_key(key: str) -> str:
    """The idempotency key, or ``IDEMPOTENCY_KEY_INVALID``."""
    key = key.strip()
    if not KEY_PATTERN.match(key):
        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_INVALID, "idempotencyKey")
    return key


def check_amount(amount: Decimal, ceiling: Decimal) -> Decimal:
    """A positive amount of roubles with at most two decimals, at most ``ceiling``."""
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise DomainError(ErrorCode.PAYMENT_AMOUNT_INVALID, "amount")
    if amount > ceiling:
        shown = f"{ceiling:,.2f}".replace(",", " ").replace(".", ",")
        raise DomainError(
            ErrorCode.PAYMENT_AMOUNT_TOO_LARGE,
            "amount",
            f"Сумма одного платежа не может превышать {shown} ₽.",
        )
    return amount.quantize(CENT)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_return_url(url: str, allowed_origins: tuple[str, ...]) -> str:
    """An absolute http(s) URL the customer may be sent back to; when ``allowed_origins``
    is not empty, only on one of them (so a payment link cannot lead to a stranger's site)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DomainError(ErrorCode.RETURN_URL_INVALID, "returnUrl") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL
        or any(c.isspace() for c in url)
    ):
        raise DomainError(ErrorCode.RETURN_URL_INVALID, "returnUrl")
    if allowed_origins and origin_of(url) not in allowed_origins:
        raise DomainError(ErrorCode.RETURN_URL_INVALID, "returnUrl")
    return url
