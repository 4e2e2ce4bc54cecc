"""The services the schema's resolvers call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.cache import UpstreamCache
from gateway.access.service import ApiAccess
from gateway.accounts.service import AccountsService
from gateway.billing import BillingServices
from gateway.clock import Clock
from gateway.http.response_cache import ResponseCache
from gateway.identity.apikeys import ApiKeys
from gateway.identity.service import IdentityService
from gateway.metrics import OperationStats
from gateway.outbox import Outbox
from gateway.payments.service import PaymentsService
from gateway.readings.service import ReadingsService
from gateway.settings import Settings
from gateway.store.db import Store
from gateway.system.diagnostics import Diagnostics
from gateway.system.policy import PrivacyPolicy
from gateway.system.status import UpstreamMonitor
from gateway.upstreams import Upstreams


@dataclass(frozen=True)
class Services:
    """Everything a request may need, shared by all requests of the app."""

    settings: Settings
    clock: Clock
    store: Store
    upstreams: Upstreams
    monitor: UpstreamMonitor
    identity: IdentityService
    accounts: AccountsService
    readings: ReadingsService
    billing: BillingServices
    """Statements, receipts and payment history (CHG-1, CHG-2, PAY-1)."""
    payments: PaymentsService
    """Card payments, their webhooks, booking and reconciliation (PAY-2..5)."""
    outbox: Outbox
    cache: UpstreamCache
    operations: OperationStats
    responses: ResponseCache
    """Customers' answers kept for a few seconds (``gateway/http/response_cache.py``)."""
    diagnostics: Diagnostics
    """GraphQL operations counted for /metrics."""
    api_keys: ApiKeys
    access: ApiAccess
    """Usage budgets and rate limits, partners' persisted operations, the APQ cache."""
    policy: PrivacyPolicy
    version: str
    """The gateway's release."""
    schema_version: str
    """A fingerprint of the public schema, so clients can notice a new one."""
