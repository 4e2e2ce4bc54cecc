"""The audit log: who did what to which account, with the request it came in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.observability import request_id_var
from gateway.store.models import AuditEvent


def audit(
    db: AsyncSession,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the caller's transaction."""
    db.add(
        AuditEvent(
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=details or {},
            request_id=request_id_var.get(),
        )
    )
