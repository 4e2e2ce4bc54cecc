"""My accounts (ACC-1, SET-1) and what billing and metering say of them (ACC-2).

Linking checks the owner's surname against billing, so nobody adds a stranger's account.
Reads go through the shared :class:`UpstreamCache` with per-kind lifetimes and
stale-if-error; billing's batch operations are called once per request for all the
accounts a request needs (the schema's DataLoaders gather them).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from adapters.billing import AccountBalance, BillingAccount, BillingClient
from adapters.cache import ACCOUNTS, BALANCES, METERS, Cached, CachePolicy, UpstreamCache
from adapters.errors import UpstreamUnavailable
from adapters.metering import Meter, MeteringClient
from gateway.clock import Clock
from gateway.errors import DomainError, ErrorCode
from gateway.identity import rules
from gateway.identity.sessions import Viewer
from gateway.identity.viewer_cache import ViewerCache
from gateway.store.audit import audit
from gateway.store.db import Store
from gateway.store.models import LinkedAccount, Session

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeterOfAccount:
    """A meter found among a customer's accounts, with the account it is on."""

    account_number: str
    meter: Meter
    stale: bool


_LINKED: Table = LinkedAccount.__table__  # type: ignore[assignment]
_NUMBERS = (
    select(_LINKED.c.user_id, _LINKED.c.account_number)
    .where(_LINKED.c.user_id.in_(bindparam("users", expanding=True)))
    .order_by(_LINKED.c.linked_at, _LINKED.c.id)
)
"""Users' linked account numbers, in the order they were linked (built once)."""


class AccountsService:
    """Which accounts a customer has, and their data from billing and metering."""

    def __init__(
        self,
        store: Store,
        billing: BillingClient,
        metering: MeteringClient,
        cache: UpstreamCache,
        clock: Clock,
        viewers: ViewerCache | None = None,
    ) -> None:
        self.store = store
        self.billing = billing
        self.metering = metering
        self.cache = cache
        self.clock = clock
        self.viewers = viewers or ViewerCache(0)
        """Linked accounts remembered for a few seconds (gateway/identity/viewer_cache.py)."""

    # -- which accounts -------------------------------------------------------------------

    async def numbers_of_users(self, user_ids: Sequence[uuid.UUID]) -> list[list[str]]:
        """Each user's account numbers, in the order they were linked (a DataLoader batch;
        remembered for a few seconds, forgotten on every replica when they change)."""
        found = await self.viewers.accounts_of_users(user_ids, self._numbers_from_store)
        return [list(numbers) for numbers in found]

    async def _numbers_from_store(
        self, user_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, ...]]:
        found: dict[uuid.UUID, list[str]] = {user_id: [] for user_id in user_ids}
        async with self.store.reading() as db:
            rows = await db.execute(_NUMBERS, {"users": user_ids})
            for user_id, number in rows:
                found[user_id].append(number)
        return {user_id: tuple(numbers) for user_id, numbers in found.items()}

    def numbers_in_memory(self, user_id: uuid.UUID) -> list[str] | None:
        """The user's account numbers if this process remembers them, else ``None``."""
        found = self.viewers.accounts_in_memory(user_id)
        return None if found is None else list(found)

    async def numbers_of(self, user_id: uuid.UUID) -> list[str]:
        """One user's account numbers."""
        return (await self.numbers_of_users([user_id]))[0]

    async def require_own(self, viewer: Viewer, number: str) -> str:
        """The normalised number if it is one of the viewer's accounts."""
        normalised = _number_or_none(number)
        if normalised is None or normalised not in await self.numbers_of(viewer.user_id):
            raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "accountNumber")
        return normalised

    async def link(self, viewer: Viewer, number: str, surname: str) -> str:
        """Add an account after checking its owner's surname in billing (ACC-1)."""
        normalised = _number_or_none(number)
        if normalised is None:
            raise DomainError(ErrorCode.ACCOUNT_NUMBER_INVALID, "accountNumber")
        if normalised in await self.numbers_of(viewer.user_id):
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber")
        try:
            accounts = await self.billing.get_accounts([normalised])
        except UpstreamUnavailable as exc:
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE) from exc
        account = accounts.get(normalised)
        if account is None or not rules.surname_matches(account.owner_name, surname):
            raise DomainError(ErrorCode.ACCOUNT_OR_SURNAME_MISMATCH, "ownerSurname")
        now = self.clock.now()
        try:
            async with self.store.session() as db:
                taken = await db.scalar(
                    select(func.count())
                    .select_from(LinkedAccount)
                    .where(
                        LinkedAccount.account_number == normalised,
                        LinkedAccount.user_id != viewer.user_id,
                    )
                )
                if taken:
                    raise DomainError(ErrorCode.ACCOUNT_LINKED_ELSEWHERE, "accountNumber")
                db.add(
                    LinkedAccount(user_id=viewer.user_id, account_number=normalised, linked_at=now)
                )
                audit(db, now, f"user:{viewer.user_id}", "account.linked", normalised)
        except IntegrityError as exc:  # the same request twice at once
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber") from exc
        await self.viewers.changed(viewer.user_id)
        logger.info("account linked", extra={"user_id": str(viewer.user_id)})
        return normalised

    async def unlink(self, viewer: Viewer, number: str) -> None:
        """Remove an account; the last one stays (ACC-1). The session's current account
        falls back to the first one left."""
        normalised = await self.require_own(viewer, number)
        now = self.clock.now()
        async with self.store.session() as db:
            count = await db.scalar(
                select(func.count())
                .select_from(LinkedAccount)
                .where(LinkedAccount.user_id == viewer.user_id)
            )
            if (count or 0) <= 1:
                raise DomainError(ErrorCode.LAST_ACCOUNT, "accountNumber")
            await db.execute(
                delete(LinkedAccount).where(
                    LinkedAccount.user_id == viewer.user_id,
                    LinkedAccount.account_number == normalised,
                )
            )
            await db.execute(
                update(Session)
                .where(Session.user_id == viewer.user_id, Session.current_account == normalised)
                .values(current_account=None)
            )
            audit(db, now, f"user:{viewer.user_id}", "account.unlinked", normalised)
        await self.viewers.changed(viewer.user_id)

    async def select(self, viewer: Viewer, number: str) -> str:
        """Make an account the session's current one (SET-1)."""
        normalised = await self.require_own(viewer, number)
        async with self.store.session() as db:
            await db.execute(
                update(Session)
                .where(Session.id == viewer.session_id)
                .values(current_account=normalised)
            )
        await self.viewers.changed(viewer.user_id)
        return normalised

    async def current_of(self, viewer: Viewer) -> str | None:
        """The session's current account, else the first linked one."""
        numbers = await self.numbers_of(viewer.user_id)
        if viewer.current_account in numbers:
            return viewer.current_account
        return numbers[0] if numbers else None

    # -- what the upstreams say ------------------------------------------------------------

    async def accounts(
        self, numbers: Sequence[str]
    ) -> dict[str, Cached[BillingAccount] | None | UpstreamUnavailable]:
        """Billing's record of each account: one ``GetAccounts`` for all the cache misses."""
        return await self.cache.get_or_load_many(ACCOUNTS, numbers, self.billing.get_accounts)

    async def balances(
        self, numbers: Sequence[str]
    ) -> dict[str, Cached[AccountBalance] | None | UpstreamUnavailable]:
        """What each account owes: one ``GetBalances`` for all the cache misses."""
        return await self.cache.get_or_load_many(BALANCES, numbers, self.billing.get_balances)

    async def meters(
        self, numbers: Sequence[str]
    ) -> dict[str, Cached[list[Meter]] | UpstreamUnavailable]:
        """Each account's meters with their last readings: one bulk read for all the cache
        misses; an account metering does not know has no meters."""

        async def load(missing: list[str]) -> dict[str, list[Meter]]:
            found = await self.metering.list_meters_of(missing)
            return {number: found.get(number, []) for number in missing}

        loaded = await self.cache.get_or_load_many(METERS, numbers, load)
        result: dict[str, Cached[list[Meter]] | UpstreamUnavailable] = {}
        for number, value in loaded.items():
            result[number] = value if value is not None else Cached([], self.clock.now(), False)
        return result

    def in_memory(self, policy: CachePolicy, number: str) -> Cached[Any] | None:
        """What :meth:`accounts`, :meth:`balances` or :meth:`meters` (by their ``policy``)
        would answer for ``number`` if it is fresh in this process's memory, else ``None``
        (a DataLoader then batches it)."""
        found = self.cache.peek_many(policy, [number])
        return None if found is None else found[number]

    async def forget_meters(self, number: str) -> None:
        """Drop the cached meters of an account (after a reading is accepted)."""
        await self.cache.invalidate(METERS, number)

    async def find_meter(self, viewer: Viewer, meter_id: str) -> MeterOfAccount:
        """A meter on one of the viewer's accounts."""
        numbers = await self.numbers_of(viewer.user_id)
        unavailable: UpstreamUnavailable | None = None
        for number, loaded in (await self.meters(numbers)).items():
            if isinstance(loaded, UpstreamUnavailable):
                unavailable = loaded
                continue
            for meter in loaded.value:
                if meter.id == meter_id:
                    return MeterOfAccount(number, meter, loaded.stale)
        if unavailable is not None:
            raise DomainError(ErrorCode.SERVICE_UNAVAILABLE) from unavailable
        raise DomainError(ErrorCode.METER_NOT_FOUND, "meterId")


def _number_or_none(value: str) -> str | None:
    try:
        return rules.check_account_number(value)
    except DomainError:
        return None
