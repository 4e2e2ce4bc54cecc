"""Diagnostics the client apps send for the developers (SET-6), read by operators.

Anyone may report — a crash report matters most when signing in fails — but each client
address and each customer has an hourly allowance, fields are bounded, and nothing the
report says is trusted beyond being stored and shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway.clock import Clock
from gateway.errors import DomainError, ErrorCode, collect
from gateway.identity.sessions import Client, Viewer
from gateway.observability import request_id_var
from gateway.security.ratelimit import Limit, RateLimiter
from gateway.store.db import Store
from gateway.store.models import DiagnosticReport

FIELD_LIMITS = {"appVersion": 40, "os": 80, "device": 120, "details": 4000}


@dataclass(frozen=True)
class Report:
    """A stored report, as operators read it."""

    id: uuid.UUID
    received_at: datetime
    account_number: str | None
    app_version: str
    os: str
    device: str
    channel: str
    details: str

    @classmethod
    def of(cls, row: DiagnosticReport) -> Report:
        """Map a row."""
        return cls(
            id=row.id,
            received_at=row.received_at,
            account_number=row.account_number,
            app_version=row.app_version,
            os=row.os,
            device=row.device,
            channel=row.channel,
            details=row.details,
        )


class Diagnostics:
    """Stores reports within the limits; lists them for operators."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        limiter: RateLimiter,
        per_client: Limit,
    ) -> None:
        self.store = store
        self.clock = clock
        self.limiter = limiter
        self.per_client = per_client

    async def report(
        self,
        viewer: Viewer | None,
        client: Client,
        app_version: str,
        os: str,
        device: str,
        details: str,
    ) -> uuid.UUID:
        """Store one report; refused when a field is empty or too long, or over the limit."""
        values = {"appVersion": app_version, "os": os, "device": device, "details": details}
        cleaned = {name: value.strip() for name, value in values.items()}

        def check(name: str) -> None:
            value = cleaned[name]
            if (not value and name != "details") or len(value) > FIELD_LIMITS[name]:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    name,
                    f"Поле {name}: от 1 до {FIELD_LIMITS[name]} символов.",
                )

        collect(*(lambda n=name: check(n) for name in FIELD_LIMITS))
        who = str(viewer.user_id) if viewer is not None else f"address:{client.address}"
        if not await self.limiter.hit(self.per_client, who):
            raise DomainError(ErrorCode.TOO_MANY_REPORTS)
        report_id = uuid.uuid4()
        async with self.store.session() as db:
            db.add(
                DiagnosticReport(
                    id=report_id,
                    received_at=self.clock.now(),
                    user_id=viewer.user_id if viewer is not None else None,
                    account_number=viewer.current_account or viewer.account_number
                    if viewer is not None
                    else None,
                    app_version=cleaned["appVersion"],
                    os=cleaned["os"],
                    device=cleaned["device"],
                    channel=client.channel[:32],
                    details=cleaned["details"],
                    request_id=request_id_var.get(),
                )
            )
        return report_id

    async def page(
        self, offset: int, limit: int, account_number: str | None
    ) -> tuple[list[Report], int]:
        """Reports newest first, optionally of one account, and how many there are."""
        query = select(DiagnosticReport)
        count = select(func.count()).select_from(DiagnosticReport)
        if account_number is not None:
            query = query.where(DiagnosticReport.account_number == account_number)
            count = count.where(DiagnosticReport.account_number == account_number)
        async with self.store.session() as db:
            total = await db.scalar(count) or 0
            rows = await db.scalars(
                query.order_by(DiagnosticReport.received_at.desc(), DiagnosticReport.id)
                .offset(offset)
                .limit(limit)
            )
            return [Report.of(row) for row in rows], total
