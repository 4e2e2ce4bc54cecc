"""Custom scalars of the public schema.

Each is a ``NewType`` for Python and mypy, registered with the schema through
``StrawberryConfig.scalar_map`` (:data:`SCALARS`), Strawberry's typed way to declare scalars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

AccountNumber = NewType("AccountNumber", str)
Period = NewType("Period", date)
"""A billing period: the first day of its month (``YYYY-MM`` on the wire)."""
_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


def parse_period(value: Any) -> Period:
    """``YYYY-MM`` as a :data:`Period`; anything else is a GraphQL input error."""
    matched = _PERIOD.match(value) if isinstance(value, str) else None
    if matched is None or int(matched.group(1)) < 1900:
        raise ValueError(f"a period is YYYY-MM, not {value!r}")
    return Period(date(int(matched.group(1)), int(matched.group(2)), 1))


def serialize_period(value: date) -> str:
    """A period as ``YYYY-MM``."""
    return f"{value:%Y-%m}"


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
    Period: strawberry.scalar(
        name="Period",
        description="A billing period (month), `YYYY-MM`, e.g. `2026-02`.",
        serialize=serialize_period,
        parse_value=parse_period,
    ),
}
