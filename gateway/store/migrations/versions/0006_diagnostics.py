"""Diagnostic reports of the client apps (SET-6).

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.types import UtcDateTime

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diagnostic_reports",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("received_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("user_id", sa.Uuid(), index=True),
        sa.Column("account_number", sa.String(10), index=True),
        sa.Column("app_version", sa.String(40), nullable=False),
        sa.Column("os", sa.String(80), nullable=False),
        sa.Column("device", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("details", sa.String(4000), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("diagnostic_reports")
