"""How long the answer to one request stays true, as far as its upstream data goes.

The response cache (``gateway/http/response_cache.py``) keeps a customer's answer only as
long as every upstream value in it would still be served fresh from the upstream cache. The
adapters report to the :class:`Freshness` of the request in progress (a context variable, so
the resolvers' tasks report to their request's):

- a value from :class:`~adapters.cache.UpstreamCache` is fresh until its ``ttl`` runs out;
- a value served stale while its upstream is down is the answer the operation would give
  again until the upstream is back: it does not shorten the answer's life (the response
  cache's own few seconds bound how late the recovery shows);
- an upstream failure with nothing to stand in, a value the cache does not keep, or an
  upstream call that no cache stands in front of (a page of readings, a payment's status at
  the acquirer) makes the answer one that must not be kept at all.

Outside a request (workers, tests of adapters) nobody listens and reports cost nothing.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Freshness:
    """What one request's answer was made of."""

    until: float = math.inf
    """``time.monotonic()`` at which its first upstream value stops being fresh."""
    keepable: bool = True
    """False once anything in it must not be kept (stale, failed or uncached data)."""
    operation_type: str | None = None
    """``query``, ``mutation`` or ``subscription``, once the schema has chosen it."""
    operation_name: str | None = None
    """The name of the operation that ran, as the schema knows it."""
    cost: int = 0
    """What it was charged from its caller's hourly budget (0: a free operation)."""

    def fresh_for(self, seconds: float) -> None:
        """A value in the answer stays fresh ``seconds`` more."""
        self.until = min(self.until, time.monotonic() + seconds)

    def spoil(self) -> None:
        """Something in the answer must not be kept."""
        self.keepable = False


_current: contextvars.ContextVar[Freshness | None] = contextvars.ContextVar(
    "lkk_freshness", default=None
)
_cache_loading: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lkk_cache_loading", default=False
)


def track() -> Freshness:
    """Start listening for the request in progress (the current task and those it starts)."""
    freshness = Freshness()
    _current.set(freshness)
    return freshness


def current() -> Freshness | None:
    """The request in progress, if one is listening."""
    return _current.get()


def fresh_for(seconds: float) -> None:
    """Report a value fresh for ``seconds`` more."""
    freshness = _current.get()
    if freshness is not None:
        freshness.fresh_for(seconds)


def spoil() -> None:
    """Report something that must not be kept."""
    freshness = _current.get()
    if freshness is not None:
        freshness.spoil()


def upstream_called() -> None:
    """An upstream call was made: fine inside a cache's load (the cache reports the value's
    lifetime), else the answer carries live data no cache vouches for."""
    if not _cache_loading.get():
        spoil()


@contextmanager
def cache_loading() -> Iterator[None]:
    """Upstream calls made inside are the loads of a cache."""
    token = _cache_loading.set(True)
    try:
        yield
    finally:
        _cache_loading.reset(token)
