"""What can be paid (PAY-2) and how a gateway payment appears in the schema.

``Payment``, ``SupplierGroup`` and ``PaymentStatus`` are the billing module's types
(``schema/billing/types.py``): one ``Payment`` type for the history, ``startPayment`` and
``paymentUpdated``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import strawberry

from adapters.billing import AccountBalance
from adapters.cache import Cached
from adapters.errors import UpstreamUnavailable
from gateway.payments.records import PaymentRecord
from schema.billing.types import Payment, SupplierGroup
from schema.context import Info
from schema.scalars import AccountNumber

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def payment_of(record: PaymentRecord) -> Payment:
    """The schema's ``Payment`` of a payment made through the gateway."""
    return Payment(
        id=strawberry.ID(str(record.id)),
        group=record.group,
        amount=_money(record.amount),
        status=record.status,
        created_at=record.created_at,
        booked_at=record.booked_at,
        channel=None,
        failure_reason=record.reason_text,
    )


@strawberry.type(
    description="What can be paid in one supplier group (PAY-2); each group is a separate "
    "payment. A group with nothing due still takes an advance payment."
)
class PaymentGroupDue:
    group: SupplierGroup = strawberry.field(  # type: ignore[valid-type]
        description="The supplier group (pass it to startPayment)."
    )
    title: str = strawberry.field(description="How the app names the group, in Russian.")
    suppliers: list[str] = strawberry.field(
        description="The suppliers paid through this group, from the latest statement; "
        "empty when billing cannot say."
    )
    due: Decimal | None = strawberry.field(
        description="What to pay now: the group's debt plus its penalties, never below zero "
        "(suggest it as the amount). Null when billing is unavailable and nothing is cached."
    )
    debt: Decimal | None = strawberry.field(
        description="The group's debt without penalties; negative is an overpayment."
    )
    penalties: Decimal | None = strawberry.field(description="The group's penalties (пени).")
    can_pay: bool = strawberry.field(
        description="Whether startPayment takes this group now: always true, advance "
        "payments included."
    )
    as_of: datetime | None = strawberry.field(description="When billing gave these figures.")
    stale: bool = strawberry.field(
        description="True when billing is unavailable and the figures are the last known."
    )


@strawberry.type(description="The payment fields of an account (mixed into Account).")
class PaymentFields:
    number: strawberry.Private[AccountNumber]

    @strawberry.field(
        description="The four supplier groups of PAY-2 with what is due in each, penalties "
        "included, and the suppliers in them; always all four, in billing's order."
    )
    async def payment_groups(self, info: Info) -> list[PaymentGroupDue]:
        services = info.context.services
        balance: Cached[AccountBalance] | None
        try:
            balance = await info.context.loaders.balance_by_number.load(self.number)
        except UpstreamUnavailable:
            balance = None  # the groups are still payable; only the figures are missing
        groups = await services.payments.groups(self.number)
        result = []
        for entry in groups:
            found = balance.value.groups.get(entry.group) if balance is not None else None
            debt = _money(found.debt) if found is not None else None
            penalties = _money(found.penalties) if found is not None else None
            due = None
            if debt is not None and penalties is not None:
                due = max(debt + penalties, ZERO)
            elif balance is not None:
                debt, penalties, due = ZERO, ZERO, ZERO  # billing lists no such group: none due
            result.append(
                PaymentGroupDue(
                    group=entry.group,
                    title=entry.title,
                    suppliers=list(entry.suppliers),
                    due=due,
                    debt=debt,
                    penalties=penalties,
                    can_pay=True,
                    as_of=balance.as_of if balance is not None else None,
                    stale=balance.stale if balance is not None else False,
                )
            )
        return result
