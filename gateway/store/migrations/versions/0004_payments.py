"""Card payments, their status history and the acquirer's webhook events (PAY-2..5).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("params_sha256", sa.String(64), nullable=False),
        sa.Column("account_number", sa.String(10), nullable=False),
        sa.Column("supplier_group", sa.Integer(), nullable=False),
        sa.Column("amount_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("return_url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("reason_party", sa.String(32), nullable=False),
        sa.Column("acquirer_id", sa.String(64), unique=True),
        sa.Column("confirmation_url", sa.String(2048)),
        sa.Column("creation_lease_until", UtcDateTime()),
        sa.Column("creation_error", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False, unique=True),
        sa.Column("paid_at", UtcDateTime()),
        sa.Column("booking", sa.String(16), nullable=False),
        sa.Column("billing_payment_id", sa.String(32)),
        sa.Column("posted_at", UtcDateTime()),
        sa.Column("booked_at", UtcDateTime()),
        sa.Column("attention", sa.String(300), nullable=False),
        sa.Column("checked_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "idempotency_key"),
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id"])
    op.create_index("ix_payments_account_number", "payments", ["account_number"])
    op.create_index("ix_payments_status", "payments", ["status"])
    op.create_index("ix_payments_created_at", "payments", ["created_at"])
    op.create_index("ix_payments_updated_at", "payments", ["updated_at"])
    op.create_table(
        "payment_transitions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "payment_id",
            sa.Uuid(),
            sa.ForeignKey("payments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("payment_id", "version"),
    )
    op.create_index("ix_payment_transitions_payment_id", "payment_transitions", ["payment_id"])
    op.create_table(
        "acquirer_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("acquirer_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(48), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.UniqueConstraint("acquirer_id", "event"),
    )


def downgrade() -> None:
    op.drop_table("acquirer_events")
    op.drop_index("ix_payment_transitions_payment_id", "payment_transitions")
    op.drop_table("payment_transitions")
    for column in ("updated_at", "created_at", "status", "account_number", "user_id"):
        op.drop_index(f"ix_payments_{column}", "payments")
    op.drop_table("payments")
