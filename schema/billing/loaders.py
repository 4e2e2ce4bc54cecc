"""Per-request DataLoaders of the billing fields (part of ``schema.context.Loaders``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property

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


class BillingLoaders:
    """The billing domain's loaders of one request, each made on first use."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @cached_property
    def statement_by_period(self) -> StatementByPeriodLoader:
        billing = self.services.billing

        async def statements_batch(
            keys: list[tuple[str, date]],
        ) -> Sequence[Cached[Statement | None] | BaseException]:
            return await billing.statements.load_many(keys)

        return StatementByPeriodLoader(statements_batch)

    @cached_property
    def payments_by_account(self) -> PaymentsByAccountLoader:
        return PaymentsByAccountLoader(self.services.billing.history.histories)
