"""Custom scalars of the public schema.

Each is a ``NewType`` for Python and mypy, registered with the schema through
``StrawberryConfig.scalar_map`` (:data:`SCALARS`), Strawberry's typed way to declare scalars.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

AccountNumber = NewType("AccountNumber", str)

SCALARS: Mapping[object, ScalarDefinition] = {
    AccountNumber: strawberry.scalar(
        name="AccountNumber",
        description=(
            "A personal account number (лицевой счёт, ЛС): 10 digits. Malformed values are "
            "answered with the payload error ACCOUNT_NUMBER_INVALID, not a GraphQL error."
        ),
        serialize=str,
        parse_value=str,
    ),
}
