"""Cursors of the billing connections: opaque to clients, stable for us.

A statement's cursor is its period, and a payment's is its place in the history (when it
was paid, and its id), so that a month published or a payment made between two page
requests neither repeats nor hides an item.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime

from schema.connections import MAX_PAGE
from schema.errors import BadArgumentError
from schema.scalars import parse_period, serialize_period

_BAD_CURSOR = "Некорректный курсор страницы."


def page_size(first: int | None, default: int) -> int:
    """``first`` checked to be 1..100, or ``default``."""
    size = default if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise BadArgumentError("first", f"Размер страницы first: от 1 до {MAX_PAGE}.")
    return size


def encode_period_cursor(period: date) -> str:
    """The cursor of a statement."""
    return _encode(f"period:{serialize_period(period)}")


def decode_period_cursor(cursor: str) -> date:
    """The period a statement cursor stands for."""
    kind, _, value = _decode(cursor).partition(":")
    try:
        if kind != "period":
            raise ValueError(kind)
        return parse_period(value)
    except ValueError as exc:
        raise BadArgumentError("after", _BAD_CURSOR) from exc


def encode_payment_cursor(position: tuple[datetime, str]) -> str:
    """The cursor of a payment at ``position`` (when, id)."""
    moment, payment_id = position
    return _encode(f"payment:{moment.isoformat()}|{payment_id}")


def decode_payment_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a payment cursor stands for."""
    kind, _, value = _decode(cursor).partition(":")
    moment, separator, payment_id = value.partition("|")
    try:
        if kind != "payment" or not separator or not payment_id:
            raise ValueError(kind)
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("no offset")
    except ValueError as exc:
        raise BadArgumentError("after", _BAD_CURSOR) from exc
    return parsed, payment_id


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadArgumentError("after", _BAD_CURSOR) from exc
