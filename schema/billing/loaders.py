"""Per-request DataLoaders of the billing fields (part of ``schema.context.Loaders``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from strawberry.dataloader import DataLoader

from adapters.billing import Statement
from adapters.cache import Cached
from gateway.billing.history import PaymentHistory
from gateway.services import Services

StatementByPeriodLoader = DataLoader[tuple[str, date], Cached[Statement | None]]
"""(account, period) → the statement (``None``: billing has none); one ``GetStatements``
per account for every period a request asks that is not cached."""
PaymentsByAccountLoader = DataLoader[str, PaymentHistory]
"""account → its payment history; one read of the gateway's unbooked payments for all."""


@dataclass
class BillingLoaders:
    """The billing domain's loaders of one request."""

    statement_by_period: StatementByPeriodLoader
    payments_by_account: PaymentsByAccountLoader

    @classmethod
    def create(cls, services: Services) -> BillingLoaders:
        """Fresh loaders for one request."""
        billing = services.billing

        async def statements_batch(
            keys: list[tuple[str, date]],
        ) -> Sequence[Cached[Statement | None] | BaseException]:
            return await billing.statements.load_many(keys)

        return cls(
            statement_by_period=StatementByPeriodLoader(statements_batch),
            payments_by_account=PaymentsByAccountLoader(billing.history.histories),
        )
