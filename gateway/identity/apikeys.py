"""API keys of partner portals and contact-centre operators (GW-3, ACC-OPS-1).

A key is shown once when made; the store keeps its SHA-256 digest, its scopes, the accounts
a partner may read, an expiry and a revocation time. Keys are managed with ``lkk apikey``
(``gateway/apikey_cli.py``): issued, listed without secrets, revoked and rotated.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clock import Clock
from gateway.identity.rules import ACCOUNT_NUMBER
from gateway.security.tokens import token_digest
from gateway.store.audit import audit
from gateway.store.db import Store
from gateway.store.models import ApiKey, ApiKeyLimits, PersistedOperation

KEY_PREFIX = "lkk_"

KNOWN_SCOPES = frozenset({"accounts:read", "readings:write", "operator"})
"""Scopes the schema checks (``HasScope``); a key with any other scope could do nothing, so
issuing one is refused (a typo, most likely)."""

NAME_LENGTH = 100
"""Longest key name (the column's width)."""


class ApiKeyRequestInvalid(ValueError):
    """A key cannot be issued or rotated as asked (unknown scope, malformed account, empty
    name, an expiry already past); the message says what to change."""


class ApiKeyNotFound(LookupError):
    """No key has this id."""


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown of a key: everything but its secret (which is not stored)."""

    key_id: uuid.UUID
    name: str
    scopes: tuple[str, ...]
    accounts: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyInfo:
        """The shown part of a stored key."""
        return cls(
            key.id,
            key.name,
            tuple(key.scopes),
            tuple(key.accounts),
            key.created_at,
            key.expires_at,
            key.revoked_at,
        )

    def is_live(self, now: datetime) -> bool:
        """Whether the key authenticates at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def check_grant(name: str, scopes: list[str], accounts: list[str]) -> None:
    """Refuse a key that could not work as meant: no name, no or unknown scopes, account
    numbers that are not 10 digits."""
    if not name.strip() or len(name) > NAME_LENGTH:
        raise ApiKeyRequestInvalid(f"the name must be 1 to {NAME_LENGTH} characters")
    if not scopes:
        raise ApiKeyRequestInvalid("give at least one scope")
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise ApiKeyRequestInvalid(
            f"unknown scope {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_SCOPES))}"
        )
    malformed = [a for a in accounts if not ACCOUNT_NUMBER.match(a)]
    if malformed:
        raise ApiKeyRequestInvalid(f"account numbers are 10 digits, not {', '.join(malformed)}")


@dataclass(frozen=True)
class ApiPrincipal:
    """The holder of a valid API key."""

    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    accounts: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        """Whether the key carries ``scope``."""
        return scope in self.scopes


@dataclass(frozen=True)
class IssuedKey:
    """A key just made: ``secret`` is shown to its owner once and never again."""

    key_id: uuid.UUID
    secret: str


class ApiKeys:
    """Makes, checks and revokes API keys."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def authenticate(self, secret: str) -> ApiPrincipal | None:
        """The principal of a live key, or None."""
        if not secret or len(secret) > 200:
            return None
        async with self.store.reading_session() as db:
            key = (
                await db.execute(select(ApiKey).where(ApiKey.key_hash == token_digest(secret)))
            ).scalar_one_or_none()
        now = self.clock.now()
        if key is None or key.revoked_at is not None:
            return None
        if key.expires_at is not None and key.expires_at <= now:
            return None
        return ApiPrincipal(key.id, key.name, frozenset(key.scopes), frozenset(key.accounts))

    async def create(
        self,
        name: str,
        scopes: list[str],
        *,
        accounts: list[str] | None = None,
        expires_at: datetime | None = None,
        secret: str | None = None,
    ) -> IssuedKey:
        """Make a key (``secret`` only for the fixed demo keys)."""
        secret = secret or KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=uuid.uuid4(),
            name=name,
            key_hash=token_digest(secret),
            scopes=sorted(set(scopes)),
            accounts=sorted(set(accounts or [])),
            created_at=self.clock.now(),
            expires_at=expires_at,
        )
        async with self.store.session() as db:
            db.add(key)
        return IssuedKey(key.id, secret)

    async def exists(self, secret: str) -> bool:
        """Whether a key with this secret was ever made."""
        async with self.store.session() as db:
            found = await db.scalar(
                select(ApiKey.id).where(ApiKey.key_hash == token_digest(secret))
            )
        return found is not None

    async def issue(
        self,
        name: str,
        scopes: list[str],
        *,
        accounts: list[str] | None = None,
        expires_in: timedelta | None = None,
        actor: str = "system",
    ) -> IssuedKey:
        """Make a key after checking the request (:func:`check_grant`), and audit it; what
        ``lkk apikey create`` does. ``expires_in`` None: the key does not expire."""
        accounts = accounts or []
        check_grant(name, scopes, accounts)
        now = self.clock.now()
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=uuid.uuid4(),
            name=name.strip(),
            key_hash=token_digest(secret),
            scopes=sorted(set(scopes)),
            accounts=sorted(set(accounts)),
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        async with self.store.session() as db:
            db.add(key)
            audit(db, now, actor, "apikey.created", str(key.id), _grant(key))
        return IssuedKey(key.id, secret)

    async def list_keys(self) -> list[ApiKeyInfo]:
        """Every key ever made, oldest first, without secrets."""
        async with self.store.session() as db:
            keys = (await db.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()
        return [ApiKeyInfo.of(key) for key in keys]

    async def get(self, key_id: uuid.UUID) -> ApiKeyInfo:
        """One key, without its secret."""
        async with self.store.session() as db:
            key = await db.get(ApiKey, key_id)
            if key is None:
                raise ApiKeyNotFound(str(key_id))
            return ApiKeyInfo.of(key)

    async def revoke(self, key_id: uuid.UUID, *, actor: str = "system") -> ApiKeyInfo:
        """Stop a key from authenticating, from now on. Revoking a revoked key changes
        nothing (its first revocation time stays)."""
        now = self.clock.now()
        async with self.store.session() as db:
            key = await db.get(ApiKey, key_id, with_for_update=True)
            if key is None:
                raise ApiKeyNotFound(str(key_id))
            if key.revoked_at is None:
                key.revoked_at = now
                audit(db, now, actor, "apikey.revoked", str(key.id), _grant(key))
            return ApiKeyInfo.of(key)

    async def rotate(
        self,
        key_id: uuid.UUID,
        *,
        expires_in: timedelta | None = None,
        actor: str = "system",
    ) -> IssuedKey:
        """Replace a key by a new one with the same name, scopes and accounts, and revoke
        the old one, in one transaction. The new key keeps the old expiry unless
        ``expires_in`` is given. A revoked key is not rotated (that would bring it back);
        nor is an expired one without a new expiry."""
        now = self.clock.now()
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.store.session() as db:
            old = await db.get(ApiKey, key_id, with_for_update=True)
            if old is None:
                raise ApiKeyNotFound(str(key_id))
            if old.revoked_at is not None:
                raise ApiKeyRequestInvalid("the key is revoked; issue a new one instead")
            expires_at = now + expires_in if expires_in is not None else old.expires_at
            if expires_at is not None and expires_at <= now:
                raise ApiKeyRequestInvalid("the key has expired; give the new key an expiry")
            new = ApiKey(
                id=uuid.uuid4(),
                name=old.name,
                key_hash=token_digest(secret),
                scopes=list(old.scopes),
                accounts=list(old.accounts),
                created_at=now,
                expires_at=expires_at,
            )
            old.revoked_at = now
            db.add(new)
            await db.flush()  # the rows below refer to it
            await _carry_over(db, old.id, new.id, now)
            details = {**_grant(new), "replaces": str(old.id)}
            audit(db, now, actor, "apikey.rotated", str(new.id), details)
        return IssuedKey(new.id, secret)


async def _carry_over(db: AsyncSession, old: uuid.UUID, new: uuid.UUID, now: datetime) -> None:
    """A rotated key keeps what its holder set up: the operations registered for it and its
    own rate limits (``gateway/access``), or the partner's integration would stop."""
    operations = await db.scalars(
        select(PersistedOperation).where(PersistedOperation.key_id == old)
    )
    for operation in operations.all():
        db.add(
            PersistedOperation(
                key_id=new,
                document_id=operation.document_id,
                document=operation.document,
                operation_names=list(operation.operation_names),
                created_at=operation.created_at,
            )
        )
    limits = await db.get(ApiKeyLimits, old)
    if limits is not None:
        db.add(
            ApiKeyLimits(
                key_id=new,
                requests_per_minute=limits.requests_per_minute,
                hourly_cost_budget=limits.hourly_cost_budget,
                updated_at=now,
            )
        )


def _grant(key: ApiKey) -> dict[str, object]:
    return {"name": key.name, "scopes": list(key.scopes), "accounts": list(key.accounts)}
