"""Receipts (платёжные документы, CHG-1): signed short-lived links and the cached image.

Receipts never travel as base64 inside GraphQL. ``Statement.receiptUrl`` is a link to the
gateway's ``/receipts/{account}/{period}?u=…&exp=…&sig=…``, where ``sig`` is an
HMAC-SHA256 (with ``LKK_SECRET_KEY``) over the account, the period, the expiry and the id of
the customer it was issued to. Serving it checks, in this order: the signature, the expiry,
that this customer still has the account, and, when the request carries a session, that it
is the same customer. Whoever fails any check gets the same 403, so another customer's
receipt can never be reached, and a link leaked from one customer stops working the moment
the account is unlinked.

Billing draws a receipt as a ~200 KB base64 PNG (A4, 300 dpi); it is decoded once by the
adapter and the bytes, with their ETag, are cached for long (:data:`~adapters.cache.RECEIPTS`):
a closed period's receipt never changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from adapters.billing import BillingClient
from adapters.cache import RECEIPTS, UpstreamCache
from adapters.errors import NotFound, UpstreamRejected
from gateway.accounts.service import AccountsService
from gateway.billing.publication import Publication
from gateway.clock import Clock

logger = logging.getLogger(__name__)

SIGNATURE_CONTEXT = b"lkk-receipt-url:v1"
"""Kept apart from other uses of the secret key (domain separation)."""
_NUMBER = re.compile(r"^[0-9]{10}$")
_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_EXPIRY = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True)
class ReceiptImage:
    """A receipt as served: the PNG bytes, their entity tag and a file name."""

    content: bytes
    etag: str
    """A strong ETag (quoted) derived from the bytes."""
    filename: str


@dataclass(frozen=True)
class ReceiptGrant:
    """What a valid receipt link allows: one customer, one account, one period, until."""

    user_id: uuid.UUID
    number: str
    period: date
    expires_at: datetime


class ReceiptForbidden(Exception):
    """The link is malformed, tampered with, expired, or not this requester's (HTTP 403).
    The reason is for the log only; the client learns nothing from it."""


class ReceiptNotFound(Exception):
    """The link is valid but there is no receipt: the period is not published, or billing
    has no statement for it (HTTP 404)."""


class ReceiptLinks:
    """Signs and checks receipt links."""

    def __init__(self, secret: str, base_url: str, ttl_seconds: int, clock: Clock) -> None:
        self._key = hmac.new(secret.encode(), SIGNATURE_CONTEXT, hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl_seconds
        self.clock = clock

    def path(self, user_id: uuid.UUID, number: str, period: date) -> str:
        """The signed path and query of a receipt link, valid for at most the TTL.

        The expiry is rounded down to a twelfth of the TTL (5 minutes of an hour), so that
        repeated queries within that slice give the same URL and the client's image cache
        keeps working; a link is still valid for at least 11/12 of the TTL.
        """
        step = max(1, self.ttl // 12)
        expires = (int(self.clock.now().timestamp()) + self.ttl) // step * step
        query = urlencode(
            {"u": str(user_id), "exp": expires, "sig": self._sign(number, period, expires, user_id)}
        )
        return f"/receipts/{number}/{period:%Y-%m}?{query}"

    def url(self, user_id: uuid.UUID, number: str, period: date) -> str:
        """The absolute receipt link (``LKK_PUBLIC_URL`` + :meth:`path`)."""
        return self.base_url + self.path(user_id, number, period)

    def verify(self, number: str, period: str, query: Mapping[str, str]) -> ReceiptGrant:
        """The grant a link carries, or :class:`ReceiptForbidden`."""
        user, expiry, signature = query.get("u", ""), query.get("exp", ""), query.get("sig", "")
        matched = _PERIOD.match(period)
        if not (_NUMBER.match(number) and matched and _EXPIRY.match(expiry) and signature):
            raise ReceiptForbidden("malformed link")
        try:
            user_id = uuid.UUID(user)
        except ValueError as exc:
            raise ReceiptForbidden("malformed user") from exc
        month = date(int(matched.group(1)), int(matched.group(2)), 1)
        expires = int(expiry)
        expected = self._sign(number, month, expires, user_id)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise ReceiptForbidden("bad signature")
        if expires <= self.clock.now().timestamp():
            raise ReceiptForbidden("expired")
        return ReceiptGrant(user_id, number, month, datetime.fromtimestamp(expires, UTC))

    def _sign(self, number: str, period: date, expires: int, user_id: uuid.UUID) -> str:
        message = f"{number}|{period:%Y-%m}|{expires}|{user_id}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Receipts:
    """Receipt links for customers, and the receipt behind a valid link."""

    def __init__(
        self,
        billing: BillingClient,
        cache: UpstreamCache,
        accounts: AccountsService,
        publication: Publication,
        links: ReceiptLinks,
        clock: Clock,
    ) -> None:
        self.billing = billing
        self.cache = cache
        self.accounts = accounts
        self.publication = publication
        self.links = links
        self.clock = clock

    def url_for(self, user_id: uuid.UUID, number: str, period: date) -> str | None:
        """A link to the receipt of ``period`` for a customer who has the account; ``None``
        while the period is not published."""
        if not self.publication.is_published(period, self.clock.now()):
            return None
        return self.links.url(user_id, number, period)

    async def open(
        self,
        number: str,
        period: str,
        query: Mapping[str, str],
        requester: uuid.UUID | None,
    ) -> tuple[ReceiptGrant, ReceiptImage]:
        """The receipt a link grants, checked as the module says. ``requester`` is the
        customer whose session the request carries, if any.

        Raises :class:`ReceiptForbidden`, :class:`ReceiptNotFound`, or
        :class:`~adapters.errors.UpstreamUnavailable` when billing is down and the receipt
        was never cached.
        """
        grant = self.links.verify(number, period, query)
        if requester is not None and requester != grant.user_id:
            raise ReceiptForbidden("another customer's session")
        if grant.number not in await self.accounts.numbers_of(grant.user_id):
            raise ReceiptForbidden("the account is no longer the customer's")
        return grant, await self.image(grant.number, grant.period)

    async def image(self, number: str, period: date) -> ReceiptImage:
        """The receipt of a published period, from the cache or billing (decoded once)."""
        if not self.publication.is_published(period, self.clock.now()):
            raise ReceiptNotFound("not published yet")

        async def fetch() -> ReceiptImage:
            content = await self.billing.get_receipt(number, period)
            etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
            return ReceiptImage(content, etag, f"receipt_{number}_{period:%Y-%m}.png")

        try:
            loaded = await self.cache.get_or_load(RECEIPTS, f"{number}:{period:%Y-%m}", fetch)
        except NotFound as exc:
            raise ReceiptNotFound(exc.code) from exc
        except UpstreamRejected as exc:
            if exc.code == "PERIOD_NOT_CLOSED":  # billing's clock is behind ours
                raise ReceiptNotFound(exc.code) from exc
            raise
        return loaded.value
