"""Builds the one ``strawberry.Schema`` of the gateway from the domain modules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import strawberry
from opentelemetry.sdk.trace import TracerProvider
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

from gateway.settings import Settings
from schema.accounts import AccountsMutation, AccountsQuery
from schema.answers import answers
from schema.documents import DocumentValidationCache, ValidatedDocuments
from schema.execution import LeanExecutionContext
from schema.hooks import LeanHooksSchema
from schema.identity import IdentityMutation, IdentityQuery
from schema.limits import limit_extensions
from schema.metrics import OperationMetrics
from schema.payments.mutations import PaymentsMutation
from schema.payments.subscription import PaymentsSubscription
from schema.protection import protection_extensions
from schema.scalars import SCALARS
from schema.system import DiagnosticsMutation, DiagnosticsQuery, SystemQuery
from schema.usage import UsageQuery, cost_budget


@strawberry.type(description="Everything a client can read.")
class Query(IdentityQuery, AccountsQuery, SystemQuery, DiagnosticsQuery, UsageQuery):
    pass


@strawberry.type(description="Everything a client can change.")
class Mutation(IdentityMutation, AccountsMutation, DiagnosticsMutation, PaymentsMutation):
    pass


@strawberry.type(description="Live updates, over graphql-transport-ws on /graphql.")
class Subscription(PaymentsSubscription):
    pass


class CachedNames(NameConverter):
    """Strawberry's name converter with each Python name's GraphQL name remembered: it
    converts the names of a field's arguments again on every call of the field."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._converted: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        try:
            return self._converted[name]
        except KeyError:
            converted = self._converted[name] = super().apply_naming_config(name)
            return converted


class GatewaySchema(LeanHooksSchema, strawberry.Schema):
    """The gateway's schema class: Strawberry's, with the extension hooks run from a plan
    made once per tuple of extension classes (``schema/hooks.py``)."""


class FederatedGatewaySchema(LeanHooksSchema, strawberry.federation.Schema):
    """:class:`GatewaySchema` as a federation subgraph (``LKK_FEDERATION``)."""


def build_schema(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> strawberry.Schema:
    """The schema with the extensions every request needs: parsed and validated documents
    are cached (most clients send the same few operations), then the query limits of
    ``settings`` apply (their defaults without settings; ``schema/limits.py``)."""
    limits = limit_extensions(settings or Settings.model_construct())
    error_policy, guards = protection_extensions(  # schema/protection.py
        introspection=settings.introspection_enabled if settings else True,
        suggestions=settings.suggestions_enabled if settings else True,
    )
    tracing: list[Callable[[], SchemaExtension]] = (
        [lambda: OpenTelemetryExtension(tracer_provider=tracer_provider)]
        if tracer_provider is not None
        else []
    )
    federated = settings is not None and settings.federation
    validated = ValidatedDocuments(maxsize=512)
    schema_class = FederatedGatewaySchema if federated else GatewaySchema
    return schema_class(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS, name_converter=CachedNames()),
        execution_context_class=LeanExecutionContext,
        extensions=[
            error_policy,  # outermost: masks what every other extension leaves
            OperationMetrics,
            answers,  # what the response cache may keep, and what it must forget
            *tracing,
            lambda: ParserCache(maxsize=512),
            lambda: DocumentValidationCache(validated),
            *limits,  # after the caches: the cost limit reads the validation result
            *guards,
            cost_budget,  # after the limits: a refused request is not charged
        ],
    )


def sdl(schema: strawberry.Schema) -> str:
    """The schema definition language text, as checked in as ``schema.graphql``."""
    return schema.as_str() + "\n"


def fingerprint(schema: strawberry.Schema) -> str:
    """A short stable hash of the SDL (``AppInfo.schemaVersion``)."""
    return hashlib.sha256(sdl(schema).encode()).hexdigest()[:12]
