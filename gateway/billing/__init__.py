"""Charges, receipts and payment history from billing (CHG-1, CHG-2, PAY-1, PAY-4)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from adapters.billing import BillingClient
from adapters.cache import UpstreamCache
from gateway.accounts.service import AccountsService
from gateway.billing.history import (
    NoUnbookedPayments,
    PaymentHistoryService,
    PaymentStatus,
    UnbookedPayment,
    UnbookedPayments,
)
from gateway.billing.publication import Publication
from gateway.billing.receipts import ReceiptLinks, Receipts
from gateway.billing.statements import StatementsService
from gateway.clock import Clock
from gateway.settings import Settings

__all__ = [
    "BillingServices",
    "NoUnbookedPayments",
    "PaymentHistoryService",
    "PaymentStatus",
    "Publication",
    "Receipts",
    "StatementsService",
    "UnbookedPayment",
    "UnbookedPayments",
]


@dataclass(frozen=True)
class BillingServices:
    """The billing domain's services, as the schema and the receipts route use them."""

    statements: StatementsService
    receipts: Receipts
    history: PaymentHistoryService

    @classmethod
    def create(
        cls,
        settings: Settings,
        billing: BillingClient,
        cache: UpstreamCache,
        accounts: AccountsService,
        clock: Clock,
        unbooked: UnbookedPayments,
    ) -> BillingServices:
        """Wire them from the settings (the composition root calls this)."""
        timezone = ZoneInfo(settings.utility_timezone)
        publication = Publication(timezone, settings.statement_publication_day)
        links = ReceiptLinks(
            settings.secret_key.get_secret_value(),
            settings.effective_public_url,
            settings.receipt_url_ttl_seconds,
            clock,
        )
        return cls(
            statements=StatementsService(billing, cache, clock, publication),
            receipts=Receipts(billing, cache, accounts, publication, links, clock),
            history=PaymentHistoryService(
                billing,
                cache,
                clock,
                unbooked,
                timezone=timezone,
                months=settings.payment_history_months,
            ),
        )
