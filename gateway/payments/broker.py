"""Fan-out of payment status changes to live subscriptions (PAY-5, GW-1).

A change is committed to the store first, then announced: the announcement carries only
the payment's id and new version, and each subscriber reads what changed from the store.
So an announcement lost on the way (Redis restarting) delays a subscriber at most until
its next periodic look, and never shows it a state the store does not hold.

:class:`LocalBroker` fans out inside one process (the embedded mode). :class:`RedisBroker`
publishes through Redis pub/sub, so a change seen by one replica (the webhook landed there)
reaches a subscriber connected to another; it delivers to its own subscribers through a
:class:`LocalBroker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "lkk:payments:"


class PaymentEvents(Protocol):
    """Announces and listens for payment status changes."""

    async def publish(self, payment_id: uuid.UUID, version: int) -> None:
        """Announce that ``payment_id`` reached ``version`` (after it is committed)."""

    def listen(self, payment_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Listener]:
        """Receive the announcements of one payment while the context is open."""

    async def start(self) -> None:
        """Connect (if there is anything to connect to)."""

    async def close(self) -> None:
        """Disconnect; listeners already open stop receiving."""


class Listener:
    """The announcements of one payment for one subscriber, newest version last."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=64)

    def put(self, version: int) -> None:
        """Queue an announcement; a slow subscriber loses old ones (it re-reads anyway)."""
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(version)

    async def next(self, within: float) -> int | None:
        """The next announced version, or None after ``within`` seconds of silence."""
        try:
            async with asyncio.timeout(within):
                return await self._queue.get()
        except TimeoutError:
            return None


class LocalBroker:
    """In-process fan-out: every listener of a payment gets every announcement."""

    def __init__(self) -> None:
        self._listeners: dict[uuid.UUID, set[Listener]] = {}
        self.published = 0

    async def publish(self, payment_id: uuid.UUID, version: int) -> None:
        """Hand the announcement to this process's listeners."""
        self.deliver(payment_id, version)

    def deliver(self, payment_id: uuid.UUID, version: int) -> None:
        """Synchronous fan-out (also used by :class:`RedisBroker` for what Redis brings)."""
        self.published += 1
        for listener in list(self._listeners.get(payment_id, ())):
            listener.put(version)

    @asynccontextmanager
    async def listen(self, payment_id: uuid.UUID) -> AsyncIterator[Listener]:
        """Register a listener for the life of the context."""
        listener = Listener()
        self._listeners.setdefault(payment_id, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(payment_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[payment_id]

    @property
    def listening(self) -> int:
        """How many listeners are open (metrics, tests)."""
        return sum(len(found) for found in self._listeners.values())

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to disconnect."""


class RedisBroker:
    """Announcements through Redis pub/sub, one channel per payment
    (``lkk:payments:<id>``), and one pattern subscription per process that hands what
    arrives to the local listeners. When Redis cannot take an announcement, this process's
    own listeners still get it (and the others re-read on their next periodic look)."""

    def __init__(self, url: str, *, reconnect_seconds: float = 1.0) -> None:
        self.url = url
        self.local = LocalBroker()
        self.reconnect_seconds = reconnect_seconds
        self._redis: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.publish_failures = 0

    async def start(self) -> None:
        """Connect and start the listening task; returns once subscribed (or after a
        few seconds if Redis is down: the task keeps trying)."""
        self._redis = Redis.from_url(self.url)
        self._task = asyncio.create_task(self._receive(), name="payment-events-redis")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def close(self) -> None:
        """Stop listening and disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, payment_id: uuid.UUID, version: int) -> None:
        """Publish to every replica (this one included, through its subscription)."""
        if self._redis is None:  # not started: this process is all there is
            self.local.deliver(payment_id, version)
            return
        try:
            await self._redis.publish(f"{CHANNEL_PREFIX}{payment_id}", str(version))
        except (RedisError, OSError) as exc:
            self.publish_failures += 1
            logger.warning("payment event not published to Redis: %s", type(exc).__name__)
            self.local.deliver(payment_id, version)

    def listen(self, payment_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Listener]:
        """Listen on this process's share of the announcements."""
        return self.local.listen(payment_id)

    async def _receive(self) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._dispatch(message)
            except (RedisError, OSError) as exc:
                logger.warning("payment events: Redis subscription lost: %s", type(exc).__name__)
            await asyncio.sleep(self.reconnect_seconds)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        data = message["data"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        data = data.decode() if isinstance(data, bytes) else str(data)
        try:
            payment_id = uuid.UUID(channel.removeprefix(CHANNEL_PREFIX))
            version = int(data)
        except ValueError:
            logger.warning("payment events: ignored a malformed message on %s", channel)
            return
        self.local.deliver(payment_id, version)


def make_broker(redis_url: str) -> PaymentEvents:
    """Redis pub/sub when a Redis URL is configured, else in-process fan-out."""
    if redis_url:
        return RedisBroker(redis_url)
    return LocalBroker()
