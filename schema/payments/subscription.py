"""``paymentUpdated``: a payment's status live, over graphql-transport-ws (PAY-5, GW-1)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from schema.billing.types import Payment
from schema.context import Info
from schema.errors import GraphQLErrorCode
from schema.payments.types import payment_of
from schema.permissions import IsSignedIn

RECHECK_SECONDS = 15.0
"""A subscriber re-reads the payment at least this often, even without an announcement
(one lost on the way, say while Redis restarts, only delays it)."""


class PaymentNotFoundError(GraphQLError):
    """Not a payment of the signed-in customer (the same answer whether it exists or not)."""

    def __init__(self) -> None:
        super().__init__("Платёж не найден.", extensions={"code": GraphQLErrorCode.FORBIDDEN.value})


@strawberry.type
class PaymentsSubscription:
    @strawberry.subscription(
        description="The payment now, then again after every change of its status, in order "
        "(PENDING → SUCCEEDED → BOOKED, or CANCELED / FAILED); the stream completes once the "
        "payment is BOOKED, CANCELED or FAILED. Only the customer who started the payment "
        "may follow it (FORBIDDEN otherwise).",
        permission_classes=[IsSignedIn],
    )
    async def payment_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Payment, None]:
        viewer = info.context.viewer
        assert viewer is not None
        payments = info.context.services.payments
        found = await payments.owned(viewer, str(id))
        if found is None:
            raise PaymentNotFoundError
        async with payments.events.listen(found.id) as listener:
            current = await payments.get(found.id)
            assert current is not None
            yield payment_of(current)
            while not current.is_final:
                await listener.next(within=RECHECK_SECONDS)
                for change in await payments.changes(found.id, current.version):
                    current = change
                    yield payment_of(change)
