"""The gateway with a cache that keeps nothing: every operation is a cold one.

``uvicorn --factory bench.cold:create_cold_app`` serves the real app (same settings, same
code) whose :class:`~adapters.cache.UpstreamCache` backend forgets every value it is given,
and whose response cache is off, so each dashboard runs and pays its upstream calls — what a
customer's first visit costs, measured under load. Nothing of it is used outside the
benchmarks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiocache import SimpleMemoryCache
from starlette.applications import Starlette

from gateway.app import create_app


class ForgetfulCache(SimpleMemoryCache):  # type: ignore[misc]
    """An aiocache backend that stores nothing."""

    async def set(self, *_: Any, **__: Any) -> bool:
        """Accept the value and keep none of it."""
        return True


def create_cold_app() -> Starlette:
    """The gateway app, its cache swapped for :class:`ForgetfulCache` once it has started."""
    app = create_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        async with started(application):
            services = application.state.services
            services.cache.backend = ForgetfulCache()
            services.responses.seconds = 0  # no answer kept either: every operation runs
            yield

    app.router.lifespan_context = lifespan
    return app
