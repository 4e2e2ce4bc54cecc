"""Answers to a customer's repeated queries, kept for a few seconds (docs/performance.md).

A mobile app asks for the same dashboard again and again; with the upstream data warm in
the cache, running the GraphQL operation again is nearly all of the gateway's work. This
cache keeps the encoded answer of a signed-in customer's query and gives it back to the same
session for the same document, operation and variables, for as long as it is certainly the
answer the operation would give again:

- never longer than ``LKK_RESPONSE_CACHE_SECONDS`` (default 5 s; ``0`` turns it off), nor
  beyond the moment the first upstream value in it stops being fresh in the upstream cache
  (``adapters/freshness.py``);
- never an answer with an error, a failed upstream value, an upstream call no cache stands
  behind, or a root field other than :data:`KEPT_ROOTS` (``rateLimitInfo`` changes with every
  request, ``appInfo`` is a live probe); an answer with stale values (marked so) is kept like
  any other — while the upstream is down it is what the operation would answer again, and
  the upstream's recovery shows within the same few seconds;
- forgotten, on every replica, whenever the customer changes anything (each mutation of
  theirs), a payment of theirs changes status or a reading of theirs leaves the queue
  (:class:`~gateway.identity.viewer_cache.ViewerCache`, the same rules and channel as the
  session cache: unused while the invalidation channel is down, off with several workers and
  no Redis); and when the gateway's clock moves back, or past the kept time, or into another
  day of the utility's time zone (statements appear on the 10th, the readings window opens
  on the 1st: what the clock decides must never lag);
- a kept answer still pays its cost from the caller's hourly budget; over budget, the
  request runs as usual and is refused the usual way;
- when an answer runs out while the app sends the same request many times at once, one of
  them runs it and the others wait for its answer (single flight) rather than all running
  it: that burst was the warm dashboard's p99. They share it only if it was kept, that is if
  nothing of the customer's changed while it ran.

What another customer of the same account changes, or what billing learns from elsewhere,
appears within the same bound as the upstream cache's lifetimes allow, at most 5 s later.
Partners and operators (API keys) and anonymous callers are never served from it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from adapters.freshness import Freshness
from gateway.clock import Clock
from gateway.flights import Flights
from gateway.identity.viewer_cache import ViewerCache
from schema.documents import variables_key

KEPT_ROOTS = frozenset({"me", "account", "privacyPolicy", "__typename"})
"""Root fields whose answers may be kept: everything under them is the customer's data."""


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """An encoded answer and what it took."""

    body: bytes
    cost: int
    """What it was charged; a hit is charged the same."""
    clock_at: datetime
    """The gateway clock when it was made."""
    operation_name: str | None


@dataclass
class ResponseStats:
    """Counts for ``/metrics``."""

    hits: int = 0
    misses: int = 0
    kept: int = 0
    shared: int = 0
    """Answers given to requests that waited for the same request running."""


class ResponseCache:
    """Keeps and finds customers' answers (see the module's docstring)."""

    def __init__(
        self, viewers: ViewerCache, seconds: float, clock: Clock, timezone: tzinfo = UTC
    ) -> None:
        self.viewers = viewers
        self.seconds = seconds
        self.clock = clock
        self.timezone = timezone
        self.stats = ResponseStats()
        self._flights: Flights[tuple[object, ...], KeptAnswer] = Flights()

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def key(
        self,
        session_id: uuid.UUID,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> tuple[object, ...] | None:
        """Where a session's request is kept; None when it cannot be (odd variables)."""
        if not self.enabled:
            return None
        shown = variables_key(variables)
        if shown is None:
            return None
        return ("answer", session_id, query, operation_name, shown)

    async def find(self, key: tuple[object, ...]) -> KeptAnswer | None:
        """The kept answer, if still good; else, when the same request is running now, the
        answer it keeps (None when it keeps none)."""
        kept = self._get(key)
        if kept is not None or not self.viewers.active:
            return kept
        kept = await self._flights.join(key)
        if kept is not None:
            self.stats.shared += 1
        return kept

    def lead(self, key: tuple[object, ...]) -> asyncio.Future[KeptAnswer | None] | None:
        """Mark the request under ``key`` as running, unless it already is: the future to
        settle with :meth:`settle` once it has run (None: someone else leads)."""
        if not self.viewers.active:
            return None  # nothing could be kept for the others now
        return self._flights.lead(key)

    def settle(
        self,
        key: tuple[object, ...],
        future: asyncio.Future[KeptAnswer | None],
        kept: KeptAnswer | None,
    ) -> None:
        """The led request has run: hand its kept answer (or None) to those waiting."""
        self._flights.settle(key, future, kept)

    def _get(self, key: tuple[object, ...]) -> KeptAnswer | None:
        kept = self.viewers.response(key)
        if not isinstance(kept, KeptAnswer):
            self.stats.misses += 1
            return None
        now = self.clock.now()
        age = (now - kept.clock_at).total_seconds()
        if not 0 <= age < self.seconds or self._day(now) != self._day(kept.clock_at):
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return kept

    def keep(
        self,
        key: tuple[object, ...],
        body: bytes,
        user_id: uuid.UUID,
        freshness: Freshness,
        began: int,
    ) -> KeptAnswer | None:
        """Keep an answer begun at the viewer cache's tick ``began``, with what
        ``freshness`` saw, if it may be kept. What was kept, if anything."""
        if not freshness.keepable or freshness.operation_type != "query":
            return None
        answer = KeptAnswer(body, freshness.cost, self.clock.now(), freshness.operation_name)
        if not self.viewers.keep_response(
            key,
            answer,
            user_id,
            until=min(time.monotonic() + self.seconds, freshness.until),
            began=began,
            size=len(body),
        ):
            return None
        self.stats.kept += 1
        return answer

    def _day(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()
