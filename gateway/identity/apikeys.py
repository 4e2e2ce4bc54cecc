"""API keys of partner portals and contact-centre operators (GW-3, ACC-OPS-1).

A key is shown once when made; the store keeps its SHA-256 digest, its scopes, the accounts
a partner may read, an expiry and a revocation time.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.clock import Clock
from gateway.security.tokens import token_digest
from gateway.store.db import Store
from gateway.store.models import ApiKey

KEY_PREFIX = "lkk_"


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
        async with self.store.session() as db:
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
