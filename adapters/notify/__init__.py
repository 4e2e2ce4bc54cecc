"""The notification adapters: SMS through the SMS gateway's REST API, e-mail over SMTP.

Both raise only the adapter tree of :mod:`adapters.errors` (re-exported here for the
callers' convenience); refusals carry the upstream's code (:class:`SmsErrorCode`, or the
SMTP reply code such as ``"550"``).
"""

from adapters.errors import (
    CircuitOpen,
    LegacyError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.notify.mail import MailClient, compose_letter
from adapters.notify.sms import SmsClient, SmsErrorCode

__all__ = [
    "CircuitOpen",
    "LegacyError",
    "MailClient",
    "SmsClient",
    "SmsErrorCode",
    "UpstreamMalformed",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "compose_letter",
]
