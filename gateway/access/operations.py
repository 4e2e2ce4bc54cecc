"""Documents sent by id instead of by text (GW-3).

* **Persisted operations of partners.** Each API key has an allow-list of GraphQL documents,
  registered by an operator with ``lkk apikey allow <key-id> <file.graphql>``. A partner key
  sends the document's id (``documentId: "sha256:<hex>"``, or Apollo's
  ``extensions.persistedQuery.sha256Hash``) and may run nothing else: a partner's leaked key
  cannot be used to explore the schema or to run costly documents nobody reviewed.
* **Automatic persisted queries** (Apollo's APQ protocol) for the first-party apps: a client
  sends the SHA-256 of a document; if the gateway has seen it, the document is not sent at
  all (a GET of a short URL instead of a POST of kilobytes); if not, the client sends it
  once more with the hash, and the gateway keeps it once it has validated (aiocache: memory,
  or Redis when ``LKK_REDIS_URL`` is set, for ``LKK_APQ_TTL_SECONDS``).

An id is the SHA-256 of the document's UTF-8 text, in lower-case hex.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select

from gateway.cache_backend import FailSafeCache, redis_cache
from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeyNotFound
from gateway.settings import Settings
from gateway.store.db import Store
from gateway.store.models import ApiKey, PersistedOperation

_ID = re.compile(r"(?:sha256:)?([0-9a-f]{64})")


def document_id(document: str) -> str:
    """The id of a document: SHA-256 of its UTF-8 text, hex."""
    return hashlib.sha256(document.encode()).hexdigest()


def parse_document_id(value: object) -> str | None:
    """The hex digest of an id as a client may send it (``sha256:<hex>`` or ``<hex>``), or
    None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _ID.fullmatch(value.strip().lower())
    return match.group(1) if match else None


@dataclass(frozen=True)
class RegisteredOperation:
    """A document on a key's allow-list."""

    document_id: str
    operation_names: tuple[str, ...]
    created_at: datetime
    document: str


class PersistedOperations:
    """The partners' allow-lists, in the store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def register(
        self, key_id: uuid.UUID, document: str, operation_names: list[str]
    ) -> RegisteredOperation:
        """Put a document on a key's allow-list (again: nothing changes) and return it."""
        digest = document_id(document)
        async with self.store.session() as db:
            if await db.scalar(select(ApiKey.id).where(ApiKey.id == key_id)) is None:
                raise ApiKeyNotFound(str(key_id))
            row = await db.get(PersistedOperation, (key_id, digest))
            if row is None:
                row = PersistedOperation(
                    key_id=key_id,
                    document_id=digest,
                    document=document,
                    operation_names=operation_names,
                    created_at=self.clock.now(),
                )
                db.add(row)
            return _registered(row)

    async def document(self, key_id: uuid.UUID, digest: str) -> str | None:
        """The text of a document on a key's allow-list, or None."""
        async with self.store.reading_session() as db:
            found: str | None = await db.scalar(
                select(PersistedOperation.document).where(
                    PersistedOperation.key_id == key_id,
                    PersistedOperation.document_id == digest,
                )
            )
        return found

    async def list_for(self, key_id: uuid.UUID) -> list[RegisteredOperation]:
        """A key's allow-list, oldest first."""
        async with self.store.reading_session() as db:
            rows = await db.scalars(
                select(PersistedOperation)
                .where(PersistedOperation.key_id == key_id)
                .order_by(PersistedOperation.created_at)
            )
            return [_registered(row) for row in rows]

    async def remove(self, key_id: uuid.UUID, digest: str) -> bool:
        """Take a document off a key's allow-list; False when it was not on it."""
        async with self.store.session() as db:
            result = await db.execute(
                delete(PersistedOperation).where(
                    PersistedOperation.key_id == key_id,
                    PersistedOperation.document_id == digest,
                )
            )
        return bool(getattr(result, "rowcount", 0))


def _registered(row: PersistedOperation) -> RegisteredOperation:
    return RegisteredOperation(
        row.document_id, tuple(row.operation_names), row.created_at, row.document
    )


class DocumentCache(Protocol):
    """What the APQ cache needs of an aiocache-like backend."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> Any: ...

    async def close(self) -> Any: ...


class BoundedMemoryCache:
    """The APQ cache in this process's memory: least recently used documents go first once
    their text adds up to ``max_bytes``, and each lives ``ttl`` seconds. Unbounded, the cache
    would grow with every distinct valid document anyone cares to send."""

    def __init__(
        self, *, max_bytes: int = 16 * 1024 * 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str, default: Any = None) -> Any:
        """The document under ``key`` while it lives, else ``default``."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        if entry[0] <= self.clock():
            self._drop(key)
            return default
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Keep a document; one larger than the whole cache is not kept."""
        text = str(value)
        size = len(text.encode())
        if size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        expires = self.clock() + ttl if ttl is not None else float("inf")
        self._entries[key] = (expires, text)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def close(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        _, text = self._entries.pop(key)
        self._bytes -= len(text.encode())


class AutomaticPersistedQueries:
    """The APQ cache: document text by its SHA-256, in memory or in Redis. Redis failing
    (down, or slower than ``LKK_REDIS_TIMEOUT_SECONDS``) is a miss (``FailSafeCache``): the
    client simply sends the document again."""

    def __init__(self, backend: DocumentCache | None = None, *, ttl: int = 86400) -> None:
        self.backend: DocumentCache = backend if backend is not None else BoundedMemoryCache()
        self.ttl = ttl

    @classmethod
    def of(cls, settings: Settings) -> AutomaticPersistedQueries:
        """In this process's memory (at most 16 MiB of documents), or in the replicas' Redis
        when ``LKK_REDIS_URL`` is set (entries signed with ``LKK_SECRET_KEY``, like the
        upstream cache's; its size is Redis's ``maxmemory`` policy)."""
        if not settings.redis_url:
            return cls(ttl=settings.apq_ttl_seconds)
        backend = redis_cache(
            settings.redis_url,
            settings.secret_key.get_secret_value(),
            timeout=settings.redis_timeout_seconds,
        )
        return cls(FailSafeCache(backend, name="APQ cache"), ttl=settings.apq_ttl_seconds)

    async def get(self, digest: str) -> str | None:
        """The document with this SHA-256, if it is known."""
        found = await self.backend.get(_cache_key(digest))
        return found if isinstance(found, str) else None

    async def put(self, digest: str, document: str) -> None:
        """Keep a document (whose SHA-256 the caller has checked)."""
        await self.backend.set(_cache_key(digest), document, ttl=self.ttl)

    async def close(self) -> None:
        """Release the backend's connections."""
        await self.backend.close()


def _cache_key(digest: str) -> str:
    return f"lkk:apq:{digest}"
