"""The durable outbox: writes to legacy systems that must not be lost (MTR-7, PAY-4).

A write is recorded in the store *before* its first attempt, leased by whoever delivers it
(the request that made it, inline, or the background worker later), and retried with
exponential backoff and full jitter until the upstream answers. The same ``dedup_key`` goes
upstream on every attempt, so a delivery repeated after a crash or a lost answer is
de-duplicated there. After ``max_attempts`` the write is dead-lettered: logged at ERROR and
counted, for a human. Writes about one subject (one meter) go out in the order they were made.

Claiming takes a time-limited lease — on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``,
on SQLite with a conditional UPDATE — so several workers (replicas) never deliver the same
write at once; a worker that dies mid-delivery only delays the write until its lease runs
out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Row, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from adapters.errors import LegacyError, UpstreamRejected
from gateway.clock import Clock
from gateway.store.db import Store
from gateway.store.models import OutboxMessage

logger = logging.getLogger(__name__)


class OutboxState(StrEnum):
    """Where a write stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    """The upstream answered with a refusal: retrying cannot help."""
    DEAD = "dead"
    """Every attempt failed: a human must look."""


Handler = Callable[[Mapping[str, Any], str], Awaitable[Mapping[str, Any]]]
"""Delivers one write (its payload and dedup key); returns what to keep as its result.
Raises :class:`UpstreamRejected` for a refusal, any other :class:`LegacyError` to retry."""
Listener = Callable[["Entry"], Awaitable[None]]
"""Told of a write once it has settled (``Outbox.listen``)."""


@dataclass(frozen=True)
class OutboxPolicy:
    """Retry and lease timing of the outbox."""

    max_attempts: int = 20
    backoff: float = 5.0
    backoff_max: float = 600.0
    lease: float = 60.0
    poll: float = 2.0

    def delay(self, attempts: int) -> timedelta:
        """Full-jitter exponential backoff after ``attempts`` failures."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** max(0, attempts - 1))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311


@dataclass(frozen=True)
class Entry:
    """A recorded write, as the domain sees it."""

    id: uuid.UUID
    kind: str
    dedup_key: str
    subject: str
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    last_error: str
    result: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None
    params_sha256: str
    user_id: uuid.UUID | None = None
    """The customer whose request made the write, if a customer's."""

    @classmethod
    def of(cls, row: OutboxMessage | Row[Any]) -> Entry:
        """Map a row (an ORM object or a Core row of the outbox table)."""
        return cls(
            id=row.id,
            kind=row.kind,
            dedup_key=row.dedup_key,
            subject=row.subject,
            payload=dict(row.payload),
            state=OutboxState(row.state),
            attempts=row.attempts,
            last_error=row.last_error,
            result=dict(row.result) if row.result is not None else None,
            created_at=row.created_at,
            finished_at=row.finished_at,
            params_sha256=row.params_sha256,
            user_id=row.user_id,
        )


OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
"""The table itself: the writes of a customer's request (record, look up, settle) run as Core
statements built once, with bound parameters. Built per call through the ORM (an entity, its
unit of work, an ORM-enabled UPDATE … RETURNING) they were a third of a submission's CPU."""

_GET = select(OUTBOX).where(OUTBOX.c.dedup_key == bindparam("key"))
_RECORD = insert(OUTBOX).returning(*OUTBOX.c)
"""A new write; the row as stored, from the same statement."""


def _typed(name: str, column: str) -> Any:
    return bindparam(name, type_=OUTBOX.c[column].type)


_SETTLE = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"))
    .values(
        state=_typed("to_state", "state"),
        attempts=OUTBOX.c.attempts + 1,
        lease_until=None,
        last_error=_typed("error", "last_error"),
        result=bindparam("outcome", type_=JSON(none_as_null=True)),  # None: SQL NULL
        finished_at=_typed("at", "finished_at"),
    )
    .returning(*OUTBOX.c)
)
"""A delivery's attempt settled it: delivered or rejected."""

_RETRY = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"))
    .values(
        state=_typed("to_state", "state"),
        attempts=_typed("tries", "attempts"),
        lease_until=None,
        last_error=_typed("error", "last_error"),
        next_attempt_at=_typed("next_at", "next_attempt_at"),
        finished_at=_typed("at", "finished_at"),
    )
    .returning(*OUTBOX.c)
)
"""A delivery's attempt failed: to be retried later, or dead-lettered."""


def digest(params: Mapping[str, Any]) -> str:
    """A stable digest of a request's parameters."""
    text = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Outbox:
    """Records, claims and settles writes; delivers them through per-kind handlers."""

    def __init__(self, store: Store, clock: Clock, policy: OutboxPolicy) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.handlers: dict[str, Handler] = {}
        self.listeners: dict[str, list[Listener]] = {}
        self.worker_id = uuid.uuid4().hex[:12]
        self.delivered = 0
        self.retried = 0
        self.dead_lettered = 0
        self._wake = asyncio.Event()
        self._stopping = False

    def register(self, kind: str, handler: Handler) -> None:
        """Deliver writes of ``kind`` with ``handler``."""
        self.handlers[kind] = handler

    def listen(self, kind: str, listener: Listener) -> None:
        """Call ``listener`` with each write of ``kind`` once it has settled (delivered,
        rejected or dead-lettered), after the commit."""
        self.listeners.setdefault(kind, []).append(listener)

    async def _announce(self, entry: Entry) -> Entry:
        for listener in self.listeners.get(entry.kind, ()):
            try:
                await listener(entry)
            except Exception:  # a listener's failure must not undo a settled write
                logger.exception("outbox listener failed", extra={"outbox_id": str(entry.id)})
        return entry

    async def record(
        self,
        kind: str,
        dedup_key: str,
        subject: str,
        payload: Mapping[str, Any],
        params_sha256: str,
        user_id: uuid.UUID | None = None,
    ) -> tuple[Entry, bool]:
        """Record a write, leased to the caller for its first attempt. Returns the entry
        and whether it is new; an existing entry with that key is returned untouched."""
        now = self.clock.now()
        row = {
            "id": uuid.uuid4(),
            "kind": kind,
            "dedup_key": dedup_key,
            "subject": subject,
            "user_id": user_id,
            "params_sha256": params_sha256,
            "payload": dict(payload),
            "state": OutboxState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_until": now + timedelta(seconds=self.policy.lease),
            "last_error": "",
            "created_at": now,
        }  # result and finished_at: NULL until the write settles
        try:
            async with self.store.connection() as db:
                recorded = (await db.execute(_RECORD, row)).one()
        except IntegrityError:
            existing = await self.get(dedup_key)
            if existing is None:  # pragma: no cover - the row that clashed was deleted
                raise
            return existing, False
        return Entry.of(recorded), True

    async def get(self, dedup_key: str) -> Entry | None:
        """The write with this key, if any."""
        async with self.store.reading() as db:
            row = (await db.execute(_GET, {"key": dedup_key})).first()
            return Entry.of(row) if row is not None else None

    async def pending_of(self, kind: str, subjects: list[str]) -> dict[str, list[Entry]]:
        """Undelivered writes per subject, oldest first."""
        result: dict[str, list[Entry]] = {s: [] for s in subjects}
        async with self.store.reading_session() as db:
            rows = await db.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.kind == kind,
                    OutboxMessage.subject.in_(subjects),
                    OutboxMessage.state == OutboxState.PENDING.value,
                )
                .order_by(OutboxMessage.created_at)
            )
            for row in rows:
                result[row.subject].append(Entry.of(row))
        return result

    async def depth(self) -> dict[str, int]:
        """How many writes are in each state (metrics)."""
        async with self.store.reading_session() as db:
            rows = await db.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            )
            return {state: count for state, count in rows}

    async def deliver(self, entry: Entry) -> Entry:
        """One attempt at a write the caller holds the lease of; settles it and returns
        its new state (still ``PENDING`` when the upstream is unavailable)."""
        handler = self.handlers[entry.kind]
        try:
            result = await handler(entry.payload, entry.dedup_key)
        except UpstreamRejected as exc:
            return await self._settle(
                entry,
                OutboxState.REJECTED,
                error=exc.message,
                result={"code": exc.code, "refusal": type(exc).__name__},
            )
        except LegacyError as exc:
            return await self._fail(entry, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            logger.exception("outbox handler crashed", extra={"outbox_id": str(entry.id)})
            return await self._fail(entry, f"{type(exc).__name__}: {exc}")
        self.delivered += 1
        return await self._settle(entry, OutboxState.DELIVERED, result=dict(result))

    async def _settle(
        self,
        entry: Entry,
        state: OutboxState,
        *,
        error: str = "",
        result: dict[str, Any] | None = None,
    ) -> Entry:
        settled = await self._update(
            _SETTLE,
            entry,
            to_state=state.value,
            error=error[:500],
            outcome=result,
            at=self.clock.now(),
        )
        if state is OutboxState.REJECTED:
            logger.warning(
                "outbox write rejected upstream",
                extra={"outbox_id": str(entry.id), "kind": entry.kind, "reason": error},
            )
        return await self._announce(settled)

    async def _fail(self, entry: Entry, error: str) -> Entry:
        attempts = entry.attempts + 1
        now = self.clock.now()
        dead = attempts >= self.policy.max_attempts
        settled = await self._update(
            _RETRY,
            entry,
            to_state=(OutboxState.DEAD if dead else OutboxState.PENDING).value,
            tries=attempts,
            error=error[:500],
            next_at=now + self.policy.delay(attempts),
            at=now if dead else None,
        )
        if dead:
            self.dead_lettered += 1
            logger.error(
                "outbox write dead-lettered",
                extra={
                    "outbox_id": str(entry.id),
                    "kind": entry.kind,
                    "attempts": attempts,
                    "error": error,
                },
            )
        else:
            self.retried += 1
            logger.info(
                "outbox write will be retried",
                extra={"outbox_id": str(entry.id), "attempts": attempts, "error": error},
            )
        return await self._announce(settled) if dead else settled

    async def _update(self, statement: Any, entry: Entry, **values: Any) -> Entry:
        """Run ``statement`` (:data:`_SETTLE` or :data:`_RETRY`) on the entry's row with
        ``values``; the row as written, read back by the same statement (``RETURNING``,
        SQLite ≥ 3.35 and PostgreSQL) rather than by a second transaction."""
        async with self.store.connection() as db:
            row = (await db.execute(statement, {"row_id": entry.id, **values})).first()
            assert row is not None
            return Entry.of(row)

    async def claim(self, limit: int = 20) -> list[Entry]:
        """Lease due writes whose subject has no older write still waiting."""
        now = self.clock.now()
        older = aliased(OutboxMessage)
        earlier_pending = (
            select(older.id)
            .where(
                older.subject == OutboxMessage.subject,
                older.kind == OutboxMessage.kind,
                older.state == OutboxState.PENDING.value,
                older.created_at < OutboxMessage.created_at,
            )
            .exists()
        )
        free = and_(
            OutboxMessage.state == OutboxState.PENDING.value,
            OutboxMessage.next_attempt_at <= now,
            (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until <= now),
        )
        lease_until = now + timedelta(seconds=self.policy.lease)
        if self.store.is_postgresql:
            # One transaction per claim: rows another replica is claiming this instant are
            # skipped rather than waited for (FOR UPDATE SKIP LOCKED), and the lease is
            # written before the row locks are released (docs/scale-out.md).
            async with self.store.session() as db:
                rows = list(
                    await db.scalars(
                        select(OutboxMessage)
                        .where(free, ~earlier_pending)
                        .order_by(OutboxMessage.next_attempt_at)
                        .limit(limit)
                        .with_for_update(skip_locked=True, of=OutboxMessage)
                    )
                )
                for leased in rows:
                    leased.lease_until = lease_until
                return [Entry.of(leased) for leased in rows]
        async with self.store.session() as db:
            candidates = list(
                await db.scalars(
                    select(OutboxMessage.id)
                    .where(free, ~earlier_pending)
                    .order_by(OutboxMessage.next_attempt_at)
                    .limit(limit)
                )
            )
        claimed: list[Entry] = []
        for message_id in candidates:
            async with self.store.session() as db:
                taken = await db.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, free)
                    .values(lease_until=lease_until)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker leased it first
                row = await db.get(OutboxMessage, message_id)
                assert row is not None
                claimed.append(Entry.of(row))
        return claimed

    async def run_once(self) -> int:
        """Claim and deliver what is due; returns how many writes were attempted."""
        entries = await self.claim()
        for entry in entries:
            await self.deliver(entry)
        return len(entries)

    def stop(self) -> None:
        """Let the worker finish its pass and leave (the lifespan's shutdown)."""
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        """Look for due writes now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """The background worker: deliver due writes until cancelled."""
        logger.info("outbox worker started", extra={"worker": self.worker_id})
        # A stop asked before the first pass, or during one, is kept: the flag is never
        # reset here, and the wake-up is cleared before a pass, not after it (else the
        # shutdown waited out the whole grace period and then cancelled the worker).
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox worker pass failed")
            with contextlib.suppress(TimeoutError):  # a stop during the pass set the event
                await asyncio.wait_for(self._wake.wait(), timeout=self.policy.poll)
