"""Custom scalars of the public schema."""

from __future__ import annotations

from typing import NewType

import strawberry

AccountNumber = strawberry.scalar(
    NewType("AccountNumber", str),
    description=(
        "A personal account number (лицевой счёт, ЛС): 10 digits. Malformed values are "
        "answered with the payload error ACCOUNT_NUMBER_INVALID, not a GraphQL error."
    ),
    serialize=str,
    parse_value=str,
)
