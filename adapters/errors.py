"""The one exception tree every adapter raises (the way httpx names its failures).

Callers catch :class:`LegacyError` or one of its children; nothing from httpx, zeep or
aiosmtplib leaks past an adapter.
"""

from __future__ import annotations


class LegacyError(Exception):
    """Base of every failure of a legacy system, as seen through its adapter."""

    def __init__(self, upstream: str, message: str) -> None:
        super().__init__(f"{upstream}: {message}")
        self.upstream = upstream
        self.message = message


class UpstreamUnavailable(LegacyError):
    """The upstream could not answer: connection refused or reset, HTTP 5xx, maintenance
    (503), an open circuit breaker, or an SMTP 4xx. Safe to retry later; cached data may
    stand in, marked stale."""


class UpstreamMalformed(UpstreamUnavailable):
    """The upstream answered, but not in its own protocol (truncated body, broken XML or
    JSON, missing fields). Treated as unavailability: the answer cannot be used."""


class CircuitOpen(UpstreamUnavailable):
    """The adapter did not call the upstream because its circuit breaker is open after
    repeated failures; it will try again after the breaker's reset time."""


class UpstreamTimeout(UpstreamUnavailable):
    """The upstream did not answer within the adapter's timeout. Whether a write took
    effect is unknown, so only idempotent calls (or those with a key) are retried."""


class UpstreamRejected(LegacyError):
    """The upstream understood the request and refused it: a SOAP Fault with a business
    code, a 409 or 422 with its message. Retrying the same request will not help."""

    def __init__(self, upstream: str, code: str, message: str) -> None:
        super().__init__(upstream, f"{code}: {message}")
        self.code = code
        self.message = message


class NotFound(UpstreamRejected):
    """The upstream says the thing asked for does not exist (unknown account, meter or
    payment)."""

    def __init__(self, upstream: str, message: str, code: str = "NOT_FOUND") -> None:
        super().__init__(upstream, code, message)
