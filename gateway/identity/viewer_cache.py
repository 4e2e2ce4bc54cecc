"""Who a session token is, and which accounts a user has, remembered for a few seconds.

Every request of a signed-in customer needs both, and both used to be two store reads —
most of the gateway's own work on a warm dashboard (docs/performance.md). They change only
when the customer signs out, changes credentials, is reset or deleted, links or unlinks an
account, or switches the current one; each of those calls :meth:`ViewerCache.changed` with the
user's id **after its transaction commits**, which forgets the user here at once and, through
the :class:`InvalidationBus`, on every other replica. Any other change of the customer's data
(every mutation: a submission, a payment, a consent) calls :meth:`ViewerCache.answers_changed`,
which forgets only the answers kept for them: their sessions and accounts stay remembered, so
the next request does not read them again.

Safety rules (docs/scale-out.md, "Session cache"):

- an entry lives at most ``LKK_SESSION_CACHE_SECONDS`` (default 5 s): the bound on staleness
  should an invalidation message be lost; ``0`` turns the cache off;
- a read that began before an invalidation of its user (or before the cache was emptied) is
  never stored (a tick counter), so a slow read cannot put back what a sign-out just
  removed; other users' changes do not stop it;
- with Redis configured, the cache is used only while this process is subscribed to the
  invalidation channel; while the subscription is down every request reads the store, and
  the cache is emptied when it comes back;
- several processes with no Redis to tell each other (``LKK_WORKERS`` > 1 on one machine)
  do not cache at all;
- when an entry runs out while several requests need it at once, one of them reads the
  store and the others wait for what it found (``gateway/flights.py``), and take it only if
  it was remembered (nothing of the user changed during the read) and, for a session, only
  if it is usable for them; otherwise each reads the store itself. Before this, the 50
  clients of the warm-dashboard benchmark all read (and wanted to touch) the same session
  every 5 s, and that burst was the p99 (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.flights import Flights
from gateway.observability import Throttle

if TYPE_CHECKING:
    from gateway.identity.sessions import LiveSession

logger = logging.getLogger(__name__)

CHANNEL = "lkk:users-changed"
"""Redis pub/sub channel. A message is the id of a user whose sessions or accounts changed
(``str(uuid)``, everything of theirs is forgotten), or the URN of the id
(``urn:uuid:…``) when only the answers kept for them are to be forgotten. Replicas of
releases before the URN form read it as the plain id (``uuid.UUID`` accepts both): during a
rolling upgrade they forget more than needed, never less."""

ANSWERS_ONLY = "urn:uuid:"
"""How a message says that only a user's kept answers changed."""

MAX_ENTRIES = 100_000
"""Entries per map at most; beyond it the map is emptied (memory stays bounded)."""

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""Bytes of kept answers per process at most: within the 200 MB a process may take."""

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    user_id: uuid.UUID
    expires_at: float
    """``time.monotonic()`` from which the entry is not used."""
    size: int = 0
    """Bytes it holds, where the map counts them."""


class InvalidationBus:
    """Tells this process's cache that a user changed; the base class is one process alone."""

    def __init__(self) -> None:
        self.on_change: Callable[[uuid.UUID], None] = lambda user_id: None
        self.on_answers_change: Callable[[uuid.UUID], None] = lambda user_id: None
        self.on_reset: Callable[[], None] = lambda: None

    @property
    def connected(self) -> bool:
        """Whether changes made by other processes reach this one."""
        return True

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to disconnect."""

    async def publish(self, user_id: uuid.UUID, *, answers_only: bool = False) -> None:
        """This process is all there is: :meth:`ViewerCache.changed` already forgot it."""


class RedisInvalidationBus(InvalidationBus):
    """Invalidations to and from every replica over Redis pub/sub."""

    def __init__(
        self, url: str, *, reconnect_seconds: float = 1.0, connect_wait: float = 5.0
    ) -> None:
        super().__init__()
        self.url = url
        self.reconnect_seconds = reconnect_seconds
        self.connect_wait = connect_wait
        self._redis: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.publish_failures = 0
        self._log = Throttle()

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def start(self) -> None:
        """Connect and subscribe; returns once subscribed or after a few seconds (the
        listening task keeps trying, and the cache stays unused meanwhile)."""
        self._redis = Redis.from_url(self.url)
        self._task = asyncio.create_task(self._receive(), name="users-changed-redis")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=self.connect_wait)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, user_id: uuid.UUID, *, answers_only: bool = False) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.publish(CHANNEL, user_id.urn if answers_only else str(user_id))
        except (RedisError, OSError) as exc:
            # Other replicas forget the user when their entries expire (the TTL bound).
            self.publish_failures += 1
            if self._log.allows():
                logger.warning(
                    "user change not published to Redis: %s (%d failures so far)",
                    type(exc).__name__,
                    self.publish_failures,
                )

    async def _receive(self) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.on_reset()  # whatever was missed while away is forgotten
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                if self._log.allows():
                    logger.warning("user changes: Redis subscription lost: %s", type(exc).__name__)
            self._subscribed.clear()
            self.on_reset()
            await asyncio.sleep(self.reconnect_seconds)

    def _dispatch(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        try:
            user_id = uuid.UUID(text)
        except ValueError:
            logger.warning("user changes: ignored a malformed message")
            return
        if text.startswith(ANSWERS_ONLY):
            self.on_answers_change(user_id)
        else:
            self.on_change(user_id)


class _Memo(Generic[K, V]):
    """One map of the cache: key → value of one user, kept until each entry expires; at
    most :data:`MAX_ENTRIES` entries and ``max_bytes`` of the sizes given to :meth:`put`.
    Past either, the expired entries go; if that frees less than a quarter, all of them go
    (so a full map costs one sweep now and then, not one per entry)."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.entries: dict[K, _Entry[V]] = {}
        self.by_user: dict[uuid.UUID, set[K]] = {}
        self.max_bytes = max_bytes
        self.bytes = 0

    def get(self, key: K, now: float) -> V | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if now >= entry.expires_at:
            self._drop(key)
            return None
        return entry.value

    def put(self, key: K, value: V, user_id: uuid.UUID, expires_at: float, size: int = 0) -> None:
        self._drop(key)
        if self._full(size, 1.0):
            now = time.monotonic()
            for stale in [k for k, e in self.entries.items() if now >= e.expires_at]:
                self._drop(stale)
            if self._full(size, 0.75):
                self.clear()
        self.entries[key] = _Entry(value, user_id, expires_at, size)
        self.bytes += size
        self.by_user.setdefault(user_id, set()).add(key)

    def _full(self, size: int, share: float) -> bool:
        """Whether adding ``size`` bytes would pass ``share`` of either limit."""
        over_bytes = self.max_bytes is not None and self.bytes + size > share * self.max_bytes
        return len(self.entries) >= share * MAX_ENTRIES or over_bytes

    def forget(self, user_id: uuid.UUID) -> None:
        for key in self.by_user.pop(user_id, ()):
            entry = self.entries.pop(key, None)
            if entry is not None:
                self.bytes -= entry.size

    def clear(self) -> None:
        self.entries.clear()
        self.by_user.clear()
        self.bytes = 0

    def _drop(self, key: K) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size
            keys = self.by_user.get(entry.user_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_user[entry.user_id]


class ViewerCache:
    """Per-process memo of live sessions (by token digest), linked accounts (by user) and
    the answers given to customers (``gateway/http/response_cache.py``), all forgotten
    together when their user changes."""

    def __init__(self, ttl: float, bus: InvalidationBus | None = None) -> None:
        self.ttl = ttl
        self.bus = bus or InvalidationBus()
        self.bus.on_change = self._forget
        self.bus.on_answers_change = self._forget_answers
        self.bus.on_reset = self.clear
        self._tick = 0
        """Counts forgettings; reads remember the tick they began at."""
        self._changed_at: dict[uuid.UUID, int] = {}
        """The tick of each user's latest forgetting."""
        self._cleared_at = 0
        self.sessions: _Memo[str, LiveSession] = _Memo()
        self.accounts: _Memo[uuid.UUID, tuple[str, ...]] = _Memo()
        self.responses: _Memo[Hashable, object] = _Memo(max_bytes=MAX_RESPONSE_BYTES)
        self._session_reads: Flights[str, LiveSession] = Flights()
        self._accounts_reads: Flights[uuid.UUID, tuple[str, ...]] = Flights()
        self.hits = 0
        self.misses = 0
        self.shared = 0
        """Lookups answered by another request's store read they waited for."""

    @property
    def active(self) -> bool:
        """Whether entries may be used now (on, and hearing the other replicas)."""
        return self.ttl > 0 and self.bus.connected

    async def session(
        self,
        digest: str,
        load: Callable[[], Awaitable[tuple[LiveSession, uuid.UUID] | None]],
        usable: Callable[[LiveSession], bool],
    ) -> LiveSession | None:
        """The live session of the token with ``digest``: remembered if ``usable`` says so,
        else what ``load`` answers (the session and its user's id, or None for no live
        session, which is not remembered). When another request is reading the same
        session from the store, its read is waited for and used if it was remembered."""
        if not self.active:
            loaded = await load()
            return None if loaded is None else loaded[0]
        now = time.monotonic()
        value = self.sessions.get(digest, now)
        if value is not None and usable(value):
            self.hits += 1
            return value
        shared = await self._session_reads.join(digest)
        if shared is not None and usable(shared):
            self.shared += 1
            return shared
        self.misses += 1
        led = self._session_reads.lead(digest)
        kept: LiveSession | None = None
        began = self._tick
        try:
            loaded = await load()
            if loaded is None:
                return None
            value, user_id = loaded
            if self.active and self._unchanged_since(began, user_id):
                self.sessions.put(digest, value, user_id, now + self.ttl)
                kept = value
            return value
        finally:
            if led is not None:
                self._session_reads.settle(digest, led, kept)

    def accounts_in_memory(self, user_id: uuid.UUID) -> tuple[str, ...] | None:
        """The user's account numbers if remembered (a hit, counted), else ``None`` (not
        counted: :meth:`accounts_of_users` will be asked)."""
        if not self.active:
            return None
        cached = self.accounts.get(user_id, time.monotonic())
        if cached is not None:
            self.hits += 1
        return cached

    async def accounts_of_users(
        self,
        user_ids: Sequence[uuid.UUID],
        load: Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, tuple[str, ...]]]],
    ) -> list[tuple[str, ...]]:
        """Each user's account numbers: the cached ones, and the others read by one
        ``load`` of the users missing (a DataLoader batch stays one query)."""
        if not self.active:
            loaded = await load(list(user_ids))
            return [loaded[user_id] for user_id in user_ids]
        now = time.monotonic()
        found: dict[uuid.UUID, tuple[str, ...]] = {}
        for user_id in user_ids:
            cached = self.accounts.get(user_id, now)
            if cached is not None:
                found[user_id] = cached
        self.hits += len(found)
        missing = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in found]
        for user_id in [u for u in missing if self._accounts_reads.running(u)]:
            shared = await self._accounts_reads.join(user_id)
            if shared is not None:
                self.shared += 1
                found[user_id] = shared
        missing = [user_id for user_id in missing if user_id not in found]
        if missing:
            found.update(await self._read_accounts(missing, load, now))
        return [found[user_id] for user_id in user_ids]

    async def _read_accounts(
        self,
        user_ids: list[uuid.UUID],
        load: Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, tuple[str, ...]]]],
        now: float,
    ) -> dict[uuid.UUID, tuple[str, ...]]:
        """One ``load`` of ``user_ids``, led for those no other request reads now, and
        what it found remembered where nothing of the user changed meanwhile."""
        self.misses += len(user_ids)
        led = {u: f for u in user_ids if (f := self._accounts_reads.lead(u)) is not None}
        kept: dict[uuid.UUID, tuple[str, ...]] = {}
        began = self._tick
        try:
            loaded = await load(user_ids)
            if self.active:
                for user_id in user_ids:
                    if self._unchanged_since(began, user_id):
                        self.accounts.put(user_id, loaded[user_id], user_id, now + self.ttl)
                        kept[user_id] = loaded[user_id]
            return loaded
        finally:
            for user_id, future in led.items():
                self._accounts_reads.settle(user_id, future, kept.get(user_id))

    @property
    def tick(self) -> int:
        """Where forgetting stands now: read it before the work whose result is to be kept,
        and pass it to :meth:`keep_response`."""
        return self._tick

    def _unchanged_since(self, began: int, user_id: uuid.UUID) -> bool:
        """Whether nothing of ``user_id`` was forgotten since tick ``began``."""
        return self._cleared_at <= began and self._changed_at.get(user_id, 0) <= began

    def response(self, key: Hashable) -> object | None:
        """An answer kept under ``key`` and still good, if the cache may be used now."""
        if not self.active:
            return None
        return self.responses.get(key, time.monotonic())

    def keep_response(
        self,
        key: Hashable,
        answer: object,
        user_id: uuid.UUID,
        *,
        until: float,
        began: int,
        size: int,
    ) -> bool:
        """Keep ``answer`` (``size`` bytes) of ``user_id`` until ``until``
        (``time.monotonic()``), unless the cache may not be used now or the user was forgotten
        since tick ``began``. Whether kept."""
        if (
            not self.active
            or not self._unchanged_since(began, user_id)
            or until <= time.monotonic()
        ):
            return False
        self.responses.put(key, answer, user_id, until, size)
        return True

    async def changed(self, user_id: uuid.UUID) -> None:
        """A user's sessions, accounts or data changed (call after the commit): forget them
        and the answers given to them here, and tell the other replicas."""
        self._forget(user_id)
        await self.bus.publish(user_id)

    async def answers_changed(self, user_id: uuid.UUID) -> None:
        """A user's data changed, not their sessions or accounts (call after the commit):
        forget the answers kept for them here, and tell the other replicas."""
        self._forget_answers(user_id)
        await self.bus.publish(user_id, answers_only=True)

    def _forget(self, user_id: uuid.UUID) -> None:
        self._forget_answers(user_id)
        self.sessions.forget(user_id)
        self.accounts.forget(user_id)

    def _forget_answers(self, user_id: uuid.UUID) -> None:
        """Forget the user's kept answers, and let no read that began before now be kept
        (of any of the maps: the rule stays one tick per user)."""
        if len(self._changed_at) >= MAX_ENTRIES:
            self.clear()  # keeps the map bounded; forgetting everything is always safe
        self._tick += 1
        self._changed_at[user_id] = self._tick
        self.responses.forget(user_id)

    def clear(self) -> None:
        """Forget everything (the invalidation channel was lost or came back)."""
        self._tick += 1
        self._cleared_at = self._tick
        self._changed_at.clear()
        self.sessions.clear()
        self.accounts.clear()
        self.responses.clear()

    async def start(self) -> None:
        """Connect the invalidation bus."""
        await self.bus.start()

    async def close(self) -> None:
        """Disconnect the invalidation bus."""
        await self.bus.close()


def make_viewer_cache(ttl: float, *, redis_url: str, workers: int) -> ViewerCache:
    """The cache for these settings: shared invalidations over Redis when configured; off
    when several processes could not tell each other about a sign-out."""
    if redis_url:
        return ViewerCache(ttl, RedisInvalidationBus(redis_url))
    return ViewerCache(ttl if workers == 1 else 0.0)
