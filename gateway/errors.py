"""The errors domain services raise for what a user can cause; the schema turns them into
``UserError`` payload entries (code, field, Russian message)."""

from __future__ import annotations


class DomainError(Exception):
    """An expected refusal of a product rule: stable ``code``, Russian ``message``, the input
    ``field`` it concerns (if any)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
