"""OpenTelemetry traces (GW-5): GraphQL operation → resolver → upstream call.

With ``LKK_TRACING_ENABLED=true`` the schema gets Strawberry's ``OpenTelemetryExtension``
(a span per operation, parse, validation and resolver) and every adapter call a client span
(``<upstream> call``, retries included) that is the child of the resolver that asked for it;
the W3C ``traceparent`` goes to the legacy systems on every HTTP request. Spans are exported
over OTLP/HTTP to ``LKK_OTEL_EXPORTER_ENDPOINT`` when set. The provider is the app's own,
not the process-global one, so several apps (tests) never share spans.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from gateway import __version__
from gateway.settings import Settings


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """The app's tracer provider, or None when tracing is off."""
    if not settings.tracing_enabled:
        return None
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.otel_service_name, "service.version": __version__}
        )
    )
    if settings.otel_exporter_endpoint:
        exporter = OTLPSpanExporter(endpoint=settings.otel_exporter_endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
