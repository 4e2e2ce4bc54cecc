"""The composition root: builds the Starlette app, its lifespan and every service.

``uvicorn --factory gateway.app:create_app`` (what ``lkk serve`` runs) reads the settings
from the environment; tests pass a :class:`Settings` of their own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gateway import __version__
from gateway.http import health
from gateway.observability import RequestIdMiddleware
from gateway.services import Services
from gateway.settings import Settings
from gateway.store.db import Store
from gateway.system.status import UpstreamMonitor
from gateway.upstreams import open_upstreams
from schema.context import Context
from schema.schema import build_schema, fingerprint

logger = logging.getLogger(__name__)


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app with the gateway's typed context."""

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            services=services,
        )


def create_app(settings: Settings | None = None) -> Starlette:
    """The gateway as an ASGI app; services start in its lifespan."""
    settings = settings or Settings()
    schema = build_schema()
    schema_version = fingerprint(schema)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(settings.effective_database_url)
        try:
            if settings.should_migrate_on_start:
                await store.migrate()
            async with open_upstreams(settings) as upstreams:
                app.state.services = Services(
                    settings=settings,
                    store=store,
                    upstreams=upstreams,
                    monitor=UpstreamMonitor(
                        upstreams.all(),
                        timeout=settings.upstream_timeout,
                        slow_ms=settings.upstream_slow_ms,
                        cache_seconds=settings.status_cache_seconds,
                    ),
                    version=__version__,
                    schema_version=schema_version,
                )
                logger.info("gateway started", extra={"version": __version__})
                yield
        finally:
            await store.close()

    graphql = GatewayGraphQL(schema, graphql_ide="graphiql" if settings.graphiql_enabled else None)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *health.routes,
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
