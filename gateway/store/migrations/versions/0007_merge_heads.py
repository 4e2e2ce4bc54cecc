"""One head again: payments (0004), persisted operations (0005) and diagnostics (0006) were
written side by side on 0003; this revision joins them so that later migrations have a
single parent and `lkk migrate` reaches one head.

Revision ID: 0007
Revises: 0004, 0005, 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0007"
down_revision = ("0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the three branches touch separate tables."""


def downgrade() -> None:
    """Nothing to change: downgrading below this revision reverts each branch."""
