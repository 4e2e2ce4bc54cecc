"""Monthly statements of an account (CHG-1) under the publication rule (CHG-2).

A statement of a closed month never changes, so each period is cached on its own for long
(:data:`~adapters.cache.CLOSED_STATEMENTS`), and a page of periods costs at most one
``GetStatements`` (one window from its oldest to its newest missing period) cold and none
warm. The schema's DataLoader hands this service every (account, period) a request needs at
once, so ``statements`` and ``statement(period)`` of one account in one request share a call.

Pages are keyed by period, not by position: the cursor of a statement is its month, and the
next page starts with the month before it. A month published between two page requests
therefore neither repeats nor hides an item (stable cursors).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from adapters.billing import BillingClient, Statement
from adapters.cache import CLOSED_STATEMENTS, Cached, UpstreamCache
from adapters.errors import NotFound, UpstreamUnavailable
from gateway.billing.publication import Publication, add_months, month_of
from gateway.clock import Clock

StatementKey = tuple[str, date]
"""An account number and a period (the first day of its month)."""
Loaded = Cached[Statement | None]
"""A period's statement (``None``: billing has none for it), when and whether stale."""
Load = Callable[[list[StatementKey]], Awaitable[list[Loaded]]]
"""Loads many periods at once (the request's DataLoader, or :meth:`StatementsService.load`)."""

MAX_WINDOW_GAP = 12
"""Missing periods further apart than this many months are fetched in separate calls, so
that one request for an old month and a page of recent ones does not read years between."""


@dataclass(frozen=True)
class StatementsPage:
    """Statements of consecutive periods, newest first."""

    statements: list[Cached[Statement]]
    has_next_page: bool
    """Older periods exist."""
    has_previous_page: bool
    """Newer periods exist (the page started after a cursor)."""


class StatementsService:
    """Reads statements from billing through the cache, showing only published periods."""

    def __init__(
        self,
        billing: BillingClient,
        cache: UpstreamCache,
        clock: Clock,
        publication: Publication,
    ) -> None:
        self.billing = billing
        self.cache = cache
        self.clock = clock
        self.publication = publication

    # -- the publication rule (CHG-2) ------------------------------------------------------

    def latest_period(self) -> date:
        """The newest period whose statement is out now."""
        return self.publication.latest_period(self.clock.now())

    def next_publication(self) -> date:
        """The local date on which the next statement appears."""
        return self.publication.next_publication(self.clock.now())

    def is_published(self, period: date) -> bool:
        """Whether the statement of ``period`` may be shown now."""
        return self.publication.is_published(period, self.clock.now())

    # -- reads -----------------------------------------------------------------------------

    async def page(
        self, number: str, before: date | None, limit: int, load: Load | None = None
    ) -> StatementsPage:
        """Up to ``limit`` statements of ``number``, newest first, of the periods before
        ``before`` (the cursor; ``None``: from the newest published one).

        One more period than asked is read to learn whether older ones exist; it is cached
        with the page, so the next page starts warm. Raises :class:`UpstreamUnavailable`
        when billing is down and a period of the page was never cached.
        """
        latest = self.latest_period()
        start = latest if before is None else min(add_months(month_of(before), -1), latest)
        periods = [add_months(start, -offset) for offset in range(limit + 1)]
        loaded = await (load or self.load)([(number, period) for period in periods])
        shown = [
            Cached(item.value, item.as_of, item.stale)
            for item in loaded[:limit]
            if item.value is not None
        ]
        return StatementsPage(
            statements=shown,
            has_next_page=loaded[limit].value is not None,
            has_previous_page=start < latest,
        )

    async def statement(
        self, number: str, period: date, load: Load | None = None
    ) -> Cached[Statement] | None:
        """The statement of one period; ``None`` before it is published or when billing
        has none for it."""
        if not self.is_published(period):
            return None
        (loaded,) = await (load or self.load)([(number, month_of(period))])
        if loaded.value is None:
            return None
        return Cached(loaded.value, loaded.as_of, loaded.stale)

    async def load(self, keys: list[StatementKey]) -> list[Loaded]:
        """Many periods at once, raising if any cannot be had."""
        results = await self.load_many(keys)
        for result in results:
            if isinstance(result, UpstreamUnavailable):
                raise result
        return [r for r in results if not isinstance(r, UpstreamUnavailable)]

    async def load_many(self, keys: Sequence[StatementKey]) -> list[Loaded | UpstreamUnavailable]:
        """Many periods of many accounts (a DataLoader batch): per account, at once, one
        ``GetStatements`` for the window of its periods missing from the cache; a period
        that cannot be had is its :class:`UpstreamUnavailable` (the others still load)."""
        by_account: dict[str, list[date]] = {}
        for number, period in keys:
            by_account.setdefault(number, []).append(month_of(period))
        answers = await asyncio.gather(
            *(self._of_account(number, periods) for number, periods in by_account.items())
        )
        found: dict[StatementKey, Loaded | UpstreamUnavailable] = {}
        for number, answer in zip(by_account, answers, strict=True):
            for period, result in answer.items():
                found[(number, period)] = result
        return [found[(number, month_of(period))] for number, period in keys]

    async def _of_account(
        self, number: str, periods: list[date]
    ) -> dict[date, Loaded | UpstreamUnavailable]:
        now = self.clock.now()
        result: dict[date, Loaded | UpstreamUnavailable] = {}
        keys: dict[str, date] = {}
        for period in dict.fromkeys(periods):
            if self.publication.is_published(period, now):
                keys[_key(number, period)] = period
            else:  # never asked of billing: not out yet
                result[period] = Cached(None, now, stale=False)
        latest = self.publication.latest_period(now)

        async def fetch(missing: list[str]) -> dict[str, Statement | None]:
            wanted = sorted(keys[key] for key in missing)
            statements: dict[date, Statement] = {}
            for first, last in _windows(wanted):
                try:
                    for statement in await self.billing.get_statements(number, first, last):
                        statements[statement.period] = statement
                except NotFound:
                    break  # billing does not know the account: it has no statements
            answer: dict[str, Statement | None] = {}
            for key in missing:
                period = keys[key]
                if period in statements:
                    answer[key] = statements[period]
                elif period != latest:
                    # A closed month billing has no statement for stays so (before the
                    # account's history); only the newest month may just be late, so its
                    # absence is not cached and it is asked again next time.
                    answer[key] = None
            return answer

        cached = await self.cache.get_or_load_many(CLOSED_STATEMENTS, list(keys), fetch)
        for key, period in keys.items():
            value = cached[key]
            result[period] = Cached(None, now, stale=False) if value is None else value
        return result


def _key(number: str, period: date) -> str:
    return f"{number}:{period:%Y-%m}"


def _windows(periods: list[date]) -> list[tuple[date, date]]:
    """Sorted periods as (first, last) windows, split where they lie far apart."""
    windows: list[tuple[date, date]] = []
    for period in periods:
        if windows and period <= add_months(windows[-1][1], MAX_WINDOW_GAP):
            windows[-1] = (windows[-1][0], period)
        else:
            windows.append((period, period))
    return windows
