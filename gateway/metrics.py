"""Prometheus metrics (DESIGN.md "Observability"): ``GET /metrics`` in the text format.

Every figure is read at scrape time from the objects that own it — the adapters'
:class:`~adapters.resilience.Resilience` (calls, latency, retries, breaker), the shared
:class:`~adapters.cache.UpstreamCache`, the :class:`~gateway.outbox.Outbox` (its depth from the
store), and :class:`OperationStats` (GraphQL operations, filled by ``schema/metrics.py``) — so
nothing is counted twice and nothing needs a global registry. Each app has its own
:class:`~prometheus_client.CollectorRegistry`.

The names are listed in ``docs/operations.md``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from adapters.resilience import BreakerState
from gateway.cache_backend import FailSafeCache
from gateway.payments.broker import RedisBroker
from gateway.security.resilient_limits import ResilientRateLimiter

if TYPE_CHECKING:
    from gateway.services import Services

MAX_OPERATION_NAMES = 200
"""Distinct operation names kept apart; more are counted as ``other`` (clients choose names,
so their number must not grow the metrics without bound)."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class MetricDoc:
    """One metric the gateway exposes: the single source of its name, type, labels and
    help, used by the collector and by ``docs/operations.md``."""

    name: str
    kind: str
    labels: tuple[str, ...]
    help: str


CATALOGUE: tuple[MetricDoc, ...] = (
    MetricDoc(
        "lkk_build_info", "gauge", ("version", "schema"), "The gateway's release and schema."
    ),
    MetricDoc(
        "lkk_graphql_operations",
        "counter",
        ("operation", "type", "outcome"),
        "GraphQL operations by name, type and outcome (ok, errors, refused, kept: answered "
        "from the response cache).",
    ),
    MetricDoc(
        "lkk_graphql_operation_seconds",
        "summary",
        ("operation", "type"),
        "Time to execute GraphQL operations.",
    ),
    MetricDoc(
        "lkk_upstream_calls",
        "counter",
        ("upstream", "outcome"),
        "Attempts at each legacy system by outcome (ok, rejected, unavailable, circuit_open).",
    ),
    MetricDoc(
        "lkk_upstream_call_seconds",
        "summary",
        ("upstream",),
        "Time of the attempts that reached each legacy system.",
    ),
    MetricDoc("lkk_upstream_retries", "counter", ("upstream",), "Retries of idempotent calls."),
    MetricDoc(
        "lkk_upstream_breaker_state",
        "gauge",
        ("upstream",),
        "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open.",
    ),
    MetricDoc(
        "lkk_upstream_breaker_opened", "counter", ("upstream",), "Times each breaker opened."
    ),
    MetricDoc(
        "lkk_cache_lookups",
        "counter",
        ("result",),
        "Cache lookups of upstream data: hit (fresh), miss (loaded), stale (served stale while "
        "the upstream was down).",
    ),
    MetricDoc(
        "lkk_viewer_cache_lookups",
        "counter",
        ("cache", "result"),
        "Per-process caches of customers (docs/scale-out.md): sessions and linked accounts "
        "(cache=viewer: hit, miss, and shared: found by another request's store read it "
        "waited for) and kept answers (cache=response: hit, miss, kept, and shared: given to "
        "a request that waited for the same one running).",
    ),
    MetricDoc(
        "lkk_outbox_writes",
        "gauge",
        ("state",),
        "Writes in the durable outbox by state (pending, delivered, rejected, dead).",
    ),
    MetricDoc("lkk_outbox_deliveries", "counter", (), "Writes delivered by this process."),
    MetricDoc(
        "lkk_payment_events",
        "counter",
        ("event",),
        "Payment events of this process: started, webhook_accepted, webhook_duplicate, "
        "webhook_rejected, webhook_unknown, booking_posted, booking_confirmed, repaired, "
        "attention_flagged.",
    ),
    MetricDoc(
        "lkk_payments_unrepaired",
        "gauge",
        (),
        "Payments reconciliation could not repair, waiting for a human.",
    ),
    MetricDoc("lkk_outbox_retries", "counter", (), "Failed attempts scheduled for a retry."),
    MetricDoc(
        "lkk_outbox_dead_lettered",
        "counter",
        (),
        "Writes given up after every attempt: a human must look.",
    ),
    MetricDoc(
        "lkk_redis_errors",
        "counter",
        ("use",),
        "Redis commands that failed or timed out, by use: cache (served as misses), "
        "rate_limits (answered open or closed, docs/scale-out.md), payment_events (announced "
        "to this replica's subscribers only).",
    ),
)
_BY_NAME = {doc.name: doc for doc in CATALOGUE}
_KINDS = {
    "counter": CounterMetricFamily,
    "gauge": GaugeMetricFamily,
    "summary": SummaryMetricFamily,
}


def _family(name: str) -> Any:
    """An empty metric family as the catalogue describes it."""
    doc = _BY_NAME[name]
    return _KINDS[doc.kind](doc.name, doc.help, labels=list(doc.labels))


def metrics_markdown() -> str:
    """The metrics section of ``docs/operations.md``."""
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for doc in CATALOGUE:
        exposed = doc.name + ("_total" if doc.kind == "counter" else "")
        labels = ", ".join(f"`{label}`" for label in doc.labels) or "—"
        lines.append(f"| `{exposed}` | {doc.kind} | {labels} | {doc.help} |")
    return "\n".join(lines) + "\n"


@dataclass
class OperationStats:
    """GraphQL operations by name, type and outcome, with their time."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    seconds: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    _names: set[str] = field(default_factory=set)

    def observe(self, name: str | None, kind: str, outcome: str, seconds: float) -> None:
        """Count one operation (``outcome``: ``ok``, ``errors``, ``refused`` or ``kept``)."""
        label = self._label(name)
        key = (label, kind, outcome)
        self.counts[key] = self.counts.get(key, 0) + 1
        total, count = self.seconds.get((label, kind), (0.0, 0))
        self.seconds[(label, kind)] = (total + seconds, count + 1)

    def _label(self, name: str | None) -> str:
        if not name or not _NAME.match(name):
            return "anonymous" if not name else "other"
        if name in self._names:
            return name
        if len(self._names) >= MAX_OPERATION_NAMES:
            return "other"
        self._names.add(name)
        return name


class GatewayCollector(Collector):
    """Reads the gateway's figures when Prometheus scrapes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.outbox_depth: dict[str, int] = {}
        """Writes per outbox state, refreshed from the store before each scrape."""

    async def refresh(self) -> None:
        """Read what lives in the store (the outbox depth)."""
        self.outbox_depth = await self.services.outbox.depth()

    def collect(self) -> Iterator[Metric]:
        services = self.services
        info = _family("lkk_build_info")
        info.add_metric([services.version, services.schema_version], 1)
        yield info
        yield from self._operations()
        yield from self._upstreams()
        yield from self._cache()
        yield from self._outbox()
        yield from self._payments()
        yield from self._redis()

    def _operations(self) -> Iterator[Metric]:
        stats = self.services.operations
        counts = _family("lkk_graphql_operations")
        for (name, kind, outcome), count in sorted(stats.counts.items()):
            counts.add_metric([name, kind, outcome], count)
        yield counts
        seconds = _family("lkk_graphql_operation_seconds")
        for (name, kind), (total, count) in sorted(stats.seconds.items()):
            seconds.add_metric([name, kind], count_value=count, sum_value=total)
        yield seconds

    def _upstreams(self) -> Iterator[Metric]:
        calls = _family("lkk_upstream_calls")
        seconds = _family("lkk_upstream_call_seconds")
        retries = _family("lkk_upstream_retries")
        breaker = _family("lkk_upstream_breaker_state")
        opened = _family("lkk_upstream_breaker_opened")
        for adapter in self.services.upstreams.all():
            resilience = adapter.resilience
            stats = resilience.stats
            name = adapter.name
            for outcome, count in sorted(stats.outcomes.items()):
                calls.add_metric([name, outcome], count)
            seconds.add_metric([name], count_value=stats.seconds_count, sum_value=stats.seconds_sum)
            retries.add_metric([name], resilience.retries)
            breaker.add_metric([name], BREAKER_VALUES[resilience.breaker.state])
            opened.add_metric([name], stats.breaker_opened)
        yield from (calls, seconds, retries, breaker, opened)

    def _cache(self) -> Iterator[Metric]:
        cache = self.services.cache
        lookups = _family("lkk_cache_lookups")
        lookups.add_metric(["hit"], cache.hits)
        lookups.add_metric(["miss"], cache.misses)
        lookups.add_metric(["stale"], cache.stale_served)
        yield lookups
        responses = self.services.responses
        viewers = _family("lkk_viewer_cache_lookups")
        viewers.add_metric(["viewer", "hit"], responses.viewers.hits)
        viewers.add_metric(["viewer", "miss"], responses.viewers.misses)
        viewers.add_metric(["viewer", "shared"], responses.viewers.shared)
        viewers.add_metric(["response", "hit"], responses.stats.hits)
        viewers.add_metric(["response", "miss"], responses.stats.misses)
        viewers.add_metric(["response", "kept"], responses.stats.kept)
        viewers.add_metric(["response", "shared"], responses.stats.shared)
        yield viewers

    def _outbox(self) -> Iterator[Metric]:
        outbox = self.services.outbox
        depth = _family("lkk_outbox_writes")
        for state in ("pending", "delivered", "rejected", "dead"):
            depth.add_metric([state], self.outbox_depth.get(state, 0))
        yield depth
        for name, value in (
            ("lkk_outbox_deliveries", outbox.delivered),
            ("lkk_outbox_retries", outbox.retried),
            ("lkk_outbox_dead_lettered", outbox.dead_lettered),
        ):
            counter = _family(name)
            counter.add_metric([], value)
            yield counter

    def _redis(self) -> Iterator[Metric]:
        services = self.services
        cache, limiter = services.cache.backend, services.identity.limiter
        events = services.payments.events
        errors = _family("lkk_redis_errors")
        errors.add_metric(["cache"], cache.errors if isinstance(cache, FailSafeCache) else 0)
        errors.add_metric(
            ["rate_limits"],
            limiter.storage_errors if isinstance(limiter, ResilientRateLimiter) else 0,
        )
        errors.add_metric(
            ["payment_events"], events.publish_failures if isinstance(events, RedisBroker) else 0
        )
        yield errors

    def _payments(self) -> Iterator[Metric]:
        counts = self.services.payments.metrics
        events = _family("lkk_payment_events")
        for event, value in (
            ("started", counts.started),
            ("webhook_accepted", counts.webhooks_accepted),
            ("webhook_duplicate", counts.webhooks_duplicate),
            ("webhook_rejected", counts.webhooks_rejected),
            ("webhook_unknown", counts.webhooks_unknown),
            ("booking_posted", counts.bookings_posted),
            ("booking_confirmed", counts.bookings_confirmed),
            ("repaired", counts.repaired),
            ("attention_flagged", counts.attention_flagged),
        ):
            events.add_metric([event], value)
        yield events
        unrepaired = _family("lkk_payments_unrepaired")
        unrepaired.add_metric([], counts.unrepaired)
        yield unrepaired


class Metrics:
    """The app's registry and its ``/metrics`` endpoint."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = GatewayCollector(services)
        self.registry.register(self.collector)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text format (behind ``LKK_METRICS_TOKEN``)."""
        token = self.collector.services.settings.metrics_token.get_secret_value()
        presented = request.headers.get("authorization", "")
        if token and not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return Response("unauthorized\n", status_code=401, media_type="text/plain")
        await self.collector.refresh()
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(request: Request) -> Response:
    """The route handler: the metrics of the app serving the request."""
    metrics: Metrics = request.app.state.metrics
    return await metrics.endpoint(request)
