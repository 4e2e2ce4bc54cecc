"""The composition root: builds the Starlette app, its lifespan and every service.

``uvicorn --factory gateway.app:create_app`` (what ``lkk serve`` runs) reads the settings
from the environment; tests pass a :class:`Settings` (and a clock) of their own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import orjson
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from gateway import __version__
from gateway.access.service import ApiAccess
from gateway.accounts.service import AccountsService
from gateway.billing import BillingServices
from gateway.cache_backend import upstream_cache
from gateway.clock import Clock
from gateway.http import health, pages, payment_pages, receipts, webhooks
from gateway.http.graphql_http import GraphQLOverHTTP
from gateway.http.response_cache import ResponseCache
from gateway.http.security_headers import web_security
from gateway.identity.apikeys import ApiKeys
from gateway.identity.codes import Codes
from gateway.identity.demo import seed_demo
from gateway.identity.service import IdentityLimits, IdentityService
from gateway.identity.sessions import Sessions
from gateway.identity.viewer_cache import make_viewer_cache
from gateway.metrics import Metrics, OperationStats, metrics_endpoint
from gateway.observability import RequestIdMiddleware, quiet_libraries
from gateway.outbox import Outbox, OutboxPolicy
from gateway.payments.setup import build_payments
from gateway.readings.service import ReadingsPolicy, ReadingsService
from gateway.security.passwords import Argon2Cost, Passwords
from gateway.security.ratelimit import Limit
from gateway.security.resilient_limits import close_limiter, shared_limiter
from gateway.security.web import client_of, credentials
from gateway.security.websocket import token_of
from gateway.services import Services
from gateway.settings import Environment, Settings
from gateway.store.db import Store
from gateway.system.diagnostics import Diagnostics
from gateway.system.policy import current_policy
from gateway.system.status import UpstreamMonitor
from gateway.tracing import tracer_provider
from gateway.upstreams import Upstreams, open_upstreams
from gateway.workers import stop_worker
from schema.context import Context, Loaders
from schema.schema import build_schema, fingerprint

logger = logging.getLogger(__name__)


class GatewayGraphQL(GraphQLOverHTTP):
    """Strawberry's ASGI app with the gateway's typed context: who is calling, from where."""

    def encode_json(self, data: object) -> bytes:
        """Answers are encoded with orjson: several times faster than ``json.dumps`` on a
        dashboard-sized answer (docs/performance.md). WebSocket messages still go out as
        text frames (``TextFrames`` in gateway/http/graphql_http.py)."""
        return orjson.dumps(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        presented = credentials(request)
        viewer = (
            await services.identity.authenticate(presented.session_token)
            if presented.session_token
            else None
        )
        principal = (
            await services.api_keys.authenticate(presented.api_key) if presented.api_key else None
        )
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            services=services,
            client=client_of(request),
            loaders=Loaders(services),
            viewer=viewer,
            principal=principal,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authorise a subscription socket (gateway/security/websocket.py): a token in the
        ``connection_init`` payload replaces the cookie's session; an unknown one is refused.
        (Strawberry refuses handshakes from foreign origins: ``allowed_origins`` below.)"""
        token = token_of(context.connection_params)
        if token is not None:
            context.viewer = await context.services.identity.authenticate(token)
            if context.viewer is None:
                raise ConnectionRejectionError({"reason": "session expired or unknown"})
        return await super().on_ws_connect(context)


def identity_limits(settings: Settings) -> IdentityLimits:
    """The AUTH-4 limits from the settings."""
    window = settings.sign_in_window_seconds
    return IdentityLimits(
        sign_in_failures=Limit("sign-in-failures", settings.sign_in_max_failures, window),
        sign_in_address_failures=Limit(
            "sign-in-address-failures", settings.sign_in_address_max_failures, window
        ),
        code_cooldown=Limit("code-cooldown", 1, settings.code_resend_cooldown_seconds),
        codes_per_hour=Limit("codes-per-hour", settings.codes_per_hour, 3600),
        codes_per_address=Limit("codes-per-address", settings.codes_per_address_per_hour, 3600),
        reset_attempts=Limit(
            "reset-attempts", settings.code_max_attempts, settings.code_ttl_seconds
        ),
    )


def tune_garbage_collector(threshold: int) -> None:
    """Once started: move everything alive now (modules, the schema, the services) out of
    the collector's sight (``gc.freeze``), and collect the youngest generation every
    ``threshold`` allocations instead of every 700 (``0`` keeps Python's default). Under 50
    concurrent requests the collector otherwise rescans the same long-lived objects again and
    again: the warm dashboard ran 1.6× faster per core so tuned (docs/performance.md).
    ``0`` leaves the collector alone (in-process tests start many apps in one process)."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(threshold, middle, oldest)


def build_services(
    settings: Settings,
    store: Store,
    upstreams: Upstreams,
    clock: Clock,
    schema_version: str,
) -> Services:
    """Wire every service of the gateway."""
    policy = current_policy(settings.privacy_policy_version, settings.effective_public_url)
    secret = settings.secret_key.get_secret_value()
    viewers = make_viewer_cache(
        settings.session_cache_seconds, redis_url=settings.redis_url, workers=settings.workers
    )
    identity = IdentityService(
        store=store,
        billing=upstreams.billing,
        sms=upstreams.sms,
        mail=upstreams.mail,
        passwords=Passwords(
            Argon2Cost(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_kib,
            )
        ),
        limiter=shared_limiter(settings),
        limits=identity_limits(settings),
        sessions=Sessions(
            store,
            clock,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
            cache=viewers,
        ),
        codes=Codes(
            clock,
            secret,
            ttl=timedelta(seconds=settings.code_ttl_seconds),
            max_attempts=settings.code_max_attempts,
        ),
        policy=policy,
        clock=clock,
    )
    cache = upstream_cache(settings, clock)
    accounts = AccountsService(store, upstreams.billing, upstreams.metering, cache, clock, viewers)
    outbox = Outbox(
        store,
        clock,
        OutboxPolicy(
            max_attempts=settings.outbox_max_attempts,
            backoff=settings.outbox_backoff_seconds,
            backoff_max=settings.outbox_backoff_max_seconds,
            lease=settings.outbox_lease_seconds,
            poll=settings.outbox_poll_seconds,
        ),
    )
    payments = build_payments(settings, store, upstreams, accounts, outbox, cache, clock)
    readings = ReadingsService(
        accounts,
        upstreams.metering,
        outbox,
        clock,
        ReadingsPolicy(
            timezone=ZoneInfo(settings.utility_timezone),
            window_first_day=settings.readings_window_first_day,
            window_last_day=settings.readings_window_last_day,
            consumption_ceiling=settings.readings_consumption_ceiling_kwh,
        ),
    )
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        upstreams=upstreams,
        monitor=UpstreamMonitor(
            upstreams.all(),
            timeout=settings.upstream_timeout,
            slow_ms=settings.upstream_slow_ms,
            cache_seconds=settings.status_cache_seconds,
        ),
        identity=identity,
        accounts=accounts,
        readings=readings,
        billing=BillingServices.create(
            settings, upstreams.billing, cache, accounts, clock, payments
        ),
        payments=payments,
        outbox=outbox,
        cache=cache,
        operations=OperationStats(),
        responses=ResponseCache(
            viewers,
            settings.response_cache_seconds,
            clock,
            ZoneInfo(settings.utility_timezone),
        ),
        diagnostics=Diagnostics(
            store,
            clock,
            identity.limiter,
            Limit("diagnostics", settings.diagnostics_per_hour, 3600),
        ),
        api_keys=ApiKeys(store, clock),
        access=ApiAccess.create(settings, store, clock, identity.limiter),
        policy=policy,
        version=__version__,
        schema_version=schema_version,
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    tracing: TracerProvider | None = None,
) -> Starlette:
    """The gateway as an ASGI app; services start in its lifespan. ``tracing`` replaces
    the tracer provider the settings would build (tests pass one that keeps spans)."""
    settings = settings or Settings()
    clock = clock or Clock()
    quiet_libraries()
    provider = tracing if tracing is not None else tracer_provider(settings)
    schema = build_schema(settings, provider)
    schema_version = fingerprint(schema)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        try:
            if settings.should_migrate_on_start:
                await store.migrate()
            async with open_upstreams(settings, provider) as upstreams:
                services = build_services(settings, store, upstreams, clock, schema_version)
                if settings.environment is Environment.DEMO:
                    await seed_demo(
                        store,
                        services.identity.passwords,
                        services.api_keys,
                        services.policy,
                        clock,
                    )
                app.state.services = services
                app.state.metrics = Metrics(services)
                worker = asyncio.create_task(services.outbox.run(), name="outbox-worker")
                await services.payments.open()
                await services.identity.sessions.cache.start()
                tune_garbage_collector(settings.gc_threshold)
                logger.info("gateway started", extra={"version": __version__})
                try:
                    yield
                finally:
                    await stop_worker(worker, services.outbox.stop)
                    await services.payments.close()
                    await services.identity.sessions.cache.close()
                    await services.identity.drain()
                    await services.cache.backend.close()
                    await services.access.close()
                    await close_limiter(services.identity.limiter)
        finally:
            await store.close()
            if provider is not None and tracing is None:
                provider.shutdown()  # flush the spans of the provider we built

    graphql = GatewayGraphQL(
        schema,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allowed_origins=settings.cors_origin_list,
    )
    return Starlette(
        routes=[
            Route("/graphql", graphql),  # every method: the view answers 405 itself (GW-1)
            WebSocketRoute("/graphql", graphql),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *health.routes,
            *pages.routes,
            *receipts.routes,
            *webhooks.routes,
            *payment_pages.routes,
        ],
        middleware=[Middleware(RequestIdMiddleware), *web_security(settings)],
        lifespan=lifespan,
    )
