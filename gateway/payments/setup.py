"""Building the payments service from the settings (called by the composition root)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from adapters.cache import UpstreamCache
from gateway.accounts.service import AccountsService
from gateway.clock import Clock
from gateway.outbox import Outbox
from gateway.payments.broker import make_broker
from gateway.payments.reconciliation import ReconcilePolicy
from gateway.payments.rules import origin_of
from gateway.payments.service import PaymentsPolicy, PaymentsService
from gateway.settings import Settings
from gateway.store.db import Store
from gateway.upstreams import Upstreams


def return_origins(settings: Settings) -> tuple[str, ...]:
    """Where a ``returnUrl`` may point: the gateway's own origin and the web app's
    (``LKK_CORS_ORIGINS``); any http(s) URL when none are configured, outside production
    (the demo, tests, a mobile app's own pages)."""
    configured = tuple(origin_of(item) for item in settings.cors_origin_list)
    if not configured and not settings.is_production:
        return ()
    return (origin_of(settings.effective_public_url), *configured)


def build_payments(
    settings: Settings,
    store: Store,
    upstreams: Upstreams,
    accounts: AccountsService,
    outbox: Outbox,
    cache: UpstreamCache,
    clock: Clock,
) -> PaymentsService:
    """The payments service with its policy, fan-out and reconciliation worker."""
    # A creating request may wait for the acquirer through its retries (three tries).
    creation = timedelta(seconds=4 * settings.upstream_timeout + 5)
    return PaymentsService(
        store=store,
        accounts=accounts,
        acquirer=upstreams.acquirer,
        billing=upstreams.billing,
        outbox=outbox,
        cache=cache,
        clock=clock,
        events=make_broker(settings.redis_url),
        policy=PaymentsPolicy(
            max_amount=settings.payment_max_amount,
            return_origins=return_origins(settings),
            public_url=settings.effective_public_url,
            secret=settings.secret_key.get_secret_value(),
            webhook_secret=settings.acquirer_webhook_secret.get_secret_value(),
            webhook_tolerance=timedelta(seconds=settings.acquirer_webhook_tolerance_seconds),
            creation_lease=creation,
            duplicate_wait=creation.total_seconds(),
            timezone=ZoneInfo(settings.utility_timezone),
            reconcile=ReconcilePolicy(
                stuck_after=timedelta(seconds=settings.payment_stuck_seconds),
                scan_every=settings.payment_reconcile_seconds,
                booking_check_every=settings.payment_booking_check_seconds,
            ),
        ),
    )
