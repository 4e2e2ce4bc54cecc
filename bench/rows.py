"""In process: a list of 100 objects of 5 plain leaves, completed as rows or field by field.

``python -m bench.rows`` runs ``{ holder { lines { day zone value note flag } } }`` on a bare
Strawberry schema with the gateway's :class:`~schema.execution.LeanExecutionContext`, in
alternating rounds of 100 queries: with the executor's rows (``_row``), and with the rows
turned off so that every object takes the sub-field path. Prints the median CPU time per
query of each. Both parse through Strawberry's ``ParserCache`` (as the gateway does, so a
repeated query is the same operation) and validate every time, which the two share.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import statistics
import time
from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.extensions import ParserCache

from schema.execution import LeanExecutionContext


@strawberry.enum
class Zone(enum.Enum):
    T1 = "T1"
    T2 = "T2"


@strawberry.type
class Line:
    day: date
    zone: Zone
    value: Decimal
    note: str
    flag: bool


@strawberry.type
class Holder:
    lines: list[Line]


LINES = [
    Line(day=date(2026, 1, 1 + i % 28), zone=Zone.T1, value=Decimal("12.5"), note="x", flag=True)
    for i in range(100)
]


@strawberry.type
class Query:
    @strawberry.field
    def holder(self) -> Holder:
        return Holder(lines=LINES)


QUERY = "{ holder { lines { day zone value note flag } } }"


async def _per_query(schema: strawberry.Schema, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        result = await schema.execute(QUERY)
        assert not result.errors
    return (time.process_time() - started) / count * 1e6


class _NoRows(LeanExecutionContext):
    """The same executor with every object completed field by field."""

    def _leaf_rows(self, *_args: Any) -> None:
        return None


async def main(rounds: int = 12) -> dict[str, float]:
    """Median µs of CPU per query, with rows and without."""
    schemas = {
        mode: strawberry.Schema(
            query=Query, execution_context_class=execution, extensions=[ParserCache]
        )
        for mode, execution in (("rows", LeanExecutionContext), ("no rows", _NoRows))
    }
    found: dict[str, list[float]] = {mode: [] for mode in schemas}
    for schema in schemas.values():
        await _per_query(schema, 50)
    for _ in range(rounds):
        for mode, schema in schemas.items():
            found[mode].append(await _per_query(schema, 100))
    return {mode: statistics.median(values) for mode, values in found.items()}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for mode, micros in asyncio.run(main()).items():
        logging.getLogger("bench").info(
            "%s: %.0f µs of CPU per query of 100 objects (median)", mode, micros
        )
