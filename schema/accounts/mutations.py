"""Account mutations: link, unlink, switch the current account, submit readings."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.accounts.types import Account, ReadingSubmission, TariffZone, accounts_of
from schema.context import Info
from schema.errors import UserError, possible_codes, user_errors
from schema.permissions import IsSignedIn
from schema.scalars import AccountNumber


@strawberry.input(description="Add an account to the customer's list (ACC-1).")
class LinkAccountInput:
    account_number: AccountNumber = strawberry.field(description="The account.")
    owner_surname: str = strawberry.field(
        description="The owner's surname, checked against billing."
    )


@strawberry.type(description="Result of linkAccount.")
class LinkAccountPayload:
    account: Account | None = strawberry.field(description="The account just added.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(
    description="Remove an account from the list (ACC-1); the client asks for confirmation "
    "first («Вы действительно хотите удалить лицевой счёт?»)."
)
class UnlinkAccountInput:
    account_number: AccountNumber = strawberry.field(description="The account.")


@strawberry.type(description="Result of unlinkAccount.")
class UnlinkAccountPayload:
    account_number: AccountNumber | None = strawberry.field(description="The account removed.")
    accounts: list[Account] | None = strawberry.field(description="The accounts left.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="Make an account the current one of this session (SET-1).")
class SelectAccountInput:
    account_number: AccountNumber = strawberry.field(description="The account.")


@strawberry.type(description="Result of selectAccount.")
class SelectAccountPayload:
    current_account: Account | None = strawberry.field(description="The account now shown.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="The value of one tariff zone.")
class ZoneValueInput:
    zone: TariffZone = strawberry.field(description="The tariff zone.")  # type: ignore[valid-type]
    value: Decimal = strawberry.field(description="The register's value, kWh, at most one decimal.")


@strawberry.input(description="Readings of one meter, one value per zone (MTR-1..4).")
class SubmitReadingsInput:
    meter_id: strawberry.ID = strawberry.field(description="Meter.id.")
    values: list[ZoneValueInput] = strawberry.field(description="One value per zone.")
    idempotency_key: str = strawberry.field(
        description="A new key (a UUID) per customer action; a retry with the same key "
        "returns the first answer (MTR-7)."
    )
    confirm_high_consumption: bool = strawberry.field(
        default=False,
        description="Set after the customer confirms an unusually high consumption.",
    )


@strawberry.type(description="Result of submitReadings.")
class SubmitReadingsPayload:
    submission: ReadingSubmission | None = strawberry.field(
        description="ACCEPTED by metering, or PENDING: metering is unavailable and the "
        "gateway will deliver it (it is never lost)."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Add an account after checking the owner's surname in billing."
        + possible_codes(
            "ACCOUNT_NUMBER_INVALID",
            "ACCOUNT_OR_SURNAME_MISMATCH",
            "ACCOUNT_ALREADY_LINKED",
            "ACCOUNT_LINKED_ELSEWHERE",
            "SERVICE_UNAVAILABLE",
        ),
        permission_classes=[IsSignedIn],
    )
    async def link_account(self, info: Info, input: LinkAccountInput) -> LinkAccountPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        number, errors = await user_errors(
            lambda: ctx.services.accounts.link(viewer, input.account_number, input.owner_surname)
        )
        account = accounts_of([number])[0] if number is not None else None
        return LinkAccountPayload(account=account, errors=errors)

    @strawberry.mutation(
        description="Remove an account; the last one cannot be removed."
        + possible_codes("ACCOUNT_NOT_FOUND", "LAST_ACCOUNT"),
        permission_classes=[IsSignedIn],
    )
    async def unlink_account(self, info: Info, input: UnlinkAccountInput) -> UnlinkAccountPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        _, errors = await user_errors(
            lambda: ctx.services.accounts.unlink(viewer, input.account_number)
        )
        if errors:
            return UnlinkAccountPayload(account_number=None, accounts=None, errors=errors)
        left = await ctx.services.accounts.numbers_of(viewer.user_id)
        return UnlinkAccountPayload(
            account_number=input.account_number, accounts=accounts_of(left), errors=[]
        )

    @strawberry.mutation(
        description="Switch the account the app shows (kept for this session)."
        + possible_codes("ACCOUNT_NOT_FOUND"),
        permission_classes=[IsSignedIn],
    )
    async def select_account(self, info: Info, input: SelectAccountInput) -> SelectAccountPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        number, errors = await user_errors(
            lambda: ctx.services.accounts.select(viewer, input.account_number)
        )
        current = accounts_of([number])[0] if number is not None else None
        return SelectAccountPayload(current_account=current, errors=errors)

    @strawberry.mutation(
        description="Submit readings of a meter (MTR-1..7). When metering is unavailable the "
        "submission is kept and delivered later: status PENDING."
        + possible_codes(
            "METER_NOT_FOUND",
            "METER_CLOSED",
            "READINGS_WINDOW_CLOSED",
            "ZONES_MISMATCH",
            "READING_INVALID",
            "READING_BELOW_PREVIOUS",
            "READING_EXCEEDS_CAPACITY",
            "HIGH_CONSUMPTION_UNCONFIRMED",
            "PERIOD_LOCKED",
            "READING_REJECTED",
            "IDEMPOTENCY_KEY_INVALID",
            "IDEMPOTENCY_KEY_REUSED",
            "SERVICE_UNAVAILABLE",
        ),
        permission_classes=[IsSignedIn],
    )
    async def submit_readings(
        self, info: Info, input: SubmitReadingsInput
    ) -> SubmitReadingsPayload:
        ctx = info.context
        assert ctx.viewer is not None
        viewer = ctx.viewer
        submission, errors = await user_errors(
            lambda: ctx.services.readings.submit(
                viewer,
                str(input.meter_id),
                [(v.zone, v.value) for v in input.values],
                input.idempotency_key,
                confirm_high_consumption=input.confirm_high_consumption,
            )
        )
        shown = ReadingSubmission.of(submission) if submission is not None else None
        return SubmitReadingsPayload(submission=shown, errors=errors)
