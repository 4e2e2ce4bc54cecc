"""Relay-style connections for lists that grow (readings, statements, payments).

Cursors are opaque to clients: base64 of the position in the list, which is how the legacy
systems page (offset and limit).
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Generic, TypeVar

import strawberry

from schema.errors import BadArgumentError

T = TypeVar("T")

MAX_PAGE = 100
DEFAULT_PAGE = 20


@strawberry.type(description="Where a page of a connection is in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether items precede it.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page."
    )


@strawberry.type(description="One item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of the item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of the page.")
    page_info: PageInfo = strawberry.field(description="Where the page is in the list.")
    total_count: int = strawberry.field(description="How many items the whole list has.")

    @classmethod
    def of(cls, items: list[T], offset: int, total: int) -> Connection[T]:
        """A page of ``items`` starting at ``offset`` of ``total``."""
        edges = [Edge(cursor=encode_cursor(offset + i), node=item) for i, item in enumerate(items)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=offset + len(items) < total,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )


@lru_cache(maxsize=4096)
def encode_cursor(position: int) -> str:
    """The cursor of the item at ``position`` (remembered: every page of every list starts
    at the same few positions)."""
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode()


def page_bounds(first: int | None, after: str | None) -> tuple[int, int]:
    """``(offset, limit)`` for ``first``/``after``; ``first`` is 1..100 (default 20)."""
    limit = DEFAULT_PAGE if first is None else first
    if not 1 <= limit <= MAX_PAGE:
        raise BadArgumentError("first", f"Размер страницы first: от 1 до {MAX_PAGE}.")
    if after is None:
        return 0, limit
    try:
        kind, _, number = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind != "pos":
            raise ValueError(kind)
        return int(number) + 1, limit
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadArgumentError("after", "Некорректный курсор страницы.") from exc
