"""Account queries."""

from __future__ import annotations

import strawberry

from gateway.errors import DomainError
from gateway.identity import rules
from schema.accounts.types import Account, accounts_of
from schema.context import Info
from schema.scalars import AccountNumber


@strawberry.type
class AccountsQuery:
    @strawberry.field(
        description="One account: the signed-in customer's own, or one a partner key "
        "(scope accounts:read) was granted; null otherwise."
    )
    async def account(self, info: Info, number: AccountNumber) -> Account | None:
        try:
            normalised = rules.check_account_number(number)
        except DomainError:
            return None
        ctx = info.context
        if ctx.viewer is not None:
            own = await ctx.loaders.accounts_by_user.load(ctx.viewer.user_id)
            allowed = normalised in own
        elif ctx.principal is not None:
            allowed = ctx.principal.has_scope("accounts:read") and (
                normalised in ctx.principal.accounts
            )
        else:
            allowed = False
        return accounts_of([normalised])[0] if allowed else None
