"""The durable outbox of writes to legacy systems (readings, payment bookings).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.Uuid()),
        sa.Column("params_sha256", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime()),
    )


def downgrade() -> None:
    op.drop_table("outbox")
