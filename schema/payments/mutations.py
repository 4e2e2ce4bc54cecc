"""``startPayment`` (PAY-2, PAY-3, PAY-5)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.billing.types import Payment, SupplierGroup
from schema.context import Info
from schema.errors import UserError, possible_codes, user_errors
from schema.payments.types import payment_of
from schema.permissions import IsSignedIn
from schema.scalars import AccountNumber


@strawberry.input(
    description="Pay one supplier group of an account by card (PAY-2, PAY-3). The card is "
    "entered on the acquirer's page (confirmationUrl), never sent to the gateway."
)
class StartPaymentInput:
    account_number: AccountNumber = strawberry.field(description="One of the customer's accounts.")
    group: SupplierGroup = strawberry.field(  # type: ignore[valid-type]
        description="The supplier group to pay (Account.paymentGroups)."
    )
    amount: Decimal = strawberry.field(
        description="Roubles: positive, at most two decimals, at most the configured ceiling."
    )
    idempotency_key: str = strawberry.field(
        description="A new key (a UUID) per customer action, kept at least 24 h: a retry "
        "with the same key and input returns the first answer and never a second payment; "
        "the same key with another input is IDEMPOTENCY_KEY_REUSED (PAY-5)."
    )
    return_url: str = strawberry.field(
        description="Where the customer goes back to from the gateway's return page after "
        "paying (absolute http(s) URL of an allowed origin)."
    )


@strawberry.type(description="Result of startPayment.")
class StartPaymentPayload:
    payment: Payment | None = strawberry.field(
        description="The payment, PENDING until the customer pays; follow it with the "
        "paymentUpdated subscription."
    )
    confirmation_url: str | None = strawberry.field(
        description="The acquirer's card page: open it in a browser (or a web view). After "
        "3-D Secure the customer lands on the gateway's return page. Null once the payment "
        "can no longer be paid."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.type
class PaymentsMutation:
    @strawberry.mutation(
        description="Start a card payment of one supplier group (PAY-2..5); returns the "
        "acquirer's card page. Safe to retry with the same idempotencyKey."
        + possible_codes(
            "ACCOUNT_NUMBER_INVALID",
            "ACCOUNT_NOT_FOUND",
            "PAYMENT_AMOUNT_INVALID",
            "PAYMENT_AMOUNT_TOO_LARGE",
            "RETURN_URL_INVALID",
            "IDEMPOTENCY_KEY_INVALID",
            "IDEMPOTENCY_KEY_REUSED",
            "PAYMENT_IN_PROGRESS",
            "PAYMENT_REJECTED",
            "SERVICE_UNAVAILABLE",
        ),
        permission_classes=[IsSignedIn],
    )
    async def start_payment(self, info: Info, input: StartPaymentInput) -> StartPaymentPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        started, errors = await user_errors(
            lambda: ctx.services.payments.start(
                viewer,
                input.account_number,
                input.group,
                input.amount,
                input.idempotency_key,
                input.return_url,
            )
        )
        if started is None:
            return StartPaymentPayload(payment=None, confirmation_url=None, errors=errors)
        return StartPaymentPayload(
            payment=payment_of(started.payment),
            confirmation_url=started.confirmation_url,
            errors=[],
        )
