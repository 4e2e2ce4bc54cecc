"""What every emulator shares: its clock, call log, state file, faults and admin API.

An emulator module exposes ``create_app(config, runtime)``; :func:`build_app` adds the
admin routes (``/_admin/faults``, ``/_admin/calls``, ``/_admin/clock``, ``/_admin/reset``)
and the fault middleware around the emulator's own routes.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.faults import NGINX_503, CannedResponse, FaultMiddleware, Faults

UTILITY_TZ = ZoneInfo("Asia/Yekaterinburg")
"""The legacy systems keep local time of the utility (Tyumen)."""


class Clock:
    """The emulator's idea of now: real time, shifted or frozen through ``/_admin/clock``."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        """Now, as an aware UTC datetime."""
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def local_now(self) -> datetime:
        """Now in the utility's time zone."""
        return self.now().astimezone(UTILITY_TZ)

    def today(self) -> date:
        """The utility's local date."""
        return self.local_now().date()

    def freeze(self, moment: datetime) -> None:
        """Stop the clock at ``moment`` (aware)."""
        if moment.tzinfo is None:
            raise ValueError("moment must carry a time zone")
        self._frozen = moment.astimezone(UTC)

    def shift(self, offset: timedelta) -> None:
        """Run real time shifted by ``offset``."""
        self._frozen = None
        self._offset = offset

    def reset(self) -> None:
        """Back to real time."""
        self._frozen = None
        self._offset = timedelta()


class CallLog:
    """Counts the calls an emulator served, per operation, so tests and benches can count
    upstream traffic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, operation: str) -> None:
        """Count one call of ``operation``."""
        with self._lock:
            self._counts[operation] += 1

    def snapshot(self) -> dict[str, int]:
        """Calls per operation so far."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Forget all calls."""
        with self._lock:
            self._counts.clear()


class StateDB:
    """One emulator's state in SQLite: a file that survives restarts, or memory in tests.

    Emulators are small and single-process, so plain ``sqlite3`` under a lock is enough.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            check_same_thread=False,
            isolation_level=None,
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(
            "PRAGMA journal_mode=WAL" if path is not None else "PRAGMA journal_mode=MEMORY"
        )
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN … COMMIT`` (rolled back on error)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Rows of one read."""
        with self._lock:
            return list(self._conn.execute(sql, params))

    def create(self, schema: str) -> None:
        """Create an emulator's tables: ``schema`` is ``;``-separated ``CREATE … IF NOT
        EXISTS`` statements."""
        with self.transaction() as conn:
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def wipe(self, *tables: str) -> None:
        """Delete every row of ``tables``, in order, in one transaction."""
        with self.transaction() as conn:
            for table in tables:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table names

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()


@dataclass
class EmulatorRuntime:
    """The run-time parts of one emulator that the admin API can see and change."""

    name: str
    db: StateDB
    clock: Clock = field(default_factory=Clock)
    faults: Faults = field(default_factory=Faults)
    calls: CallLog = field(default_factory=CallLog)
    rng: random.Random = field(default_factory=random.Random)
    reseed: Callable[[], None] = lambda: None
    """Rebuild the demo data (set by the emulator)."""


def _admin_routes(runtime: EmulatorRuntime) -> list[BaseRoute]:
    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError("body must be a JSON object")
                runtime.faults.update(changes)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            runtime.faults.reset()
        return JSONResponse(runtime.faults.as_dict())

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            runtime.calls.reset()
        counts = runtime.calls.snapshot()
        return JSONResponse({"total": sum(counts.values()), "operations": counts})

    async def clock(request: Request) -> Response:
        if request.method == "PUT":
            body = await request.json()
            try:
                if "now" in body:
                    runtime.clock.freeze(datetime.fromisoformat(body["now"]))
                elif "offset_seconds" in body:
                    runtime.clock.shift(timedelta(seconds=float(body["offset_seconds"])))
                else:
                    raise ValueError("give 'now' (ISO-8601 with offset) or 'offset_seconds'")
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            runtime.clock.reset()
        return JSONResponse({"now": runtime.clock.now().isoformat()})

    async def reset(request: Request) -> Response:
        runtime.faults.reset()
        runtime.calls.reset()
        runtime.clock.reset()
        runtime.reseed()
        return JSONResponse({"reset": runtime.name})

    return [
        Route("/_admin/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route("/_admin/calls", calls, methods=["GET", "DELETE"]),
        Route("/_admin/clock", clock, methods=["GET", "PUT", "DELETE"]),
        Route("/_admin/reset", reset, methods=["POST"]),
    ]


def build_app(
    runtime: EmulatorRuntime,
    routes: Sequence[BaseRoute],
    *,
    error_response: Callable[[], CannedResponse],
    outage_response: CannedResponse = NGINX_503,
) -> Starlette:
    """The emulator's ASGI app: its routes, the admin API and the fault middleware."""
    return Starlette(
        routes=[*_admin_routes(runtime), *routes],
        middleware=[
            Middleware(
                FaultMiddleware,
                faults=runtime.faults,
                rng=runtime.rng,
                error_response=error_response,
                outage_response=outage_response,
            )
        ],
    )


@dataclass
class EmulatorParts:
    """What an emulator's ``create`` returns: its HTTP app, and optionally a starter for
    whatever else it runs in the host's loop (mail's SMTP server, the acquirer's expiry
    sweeper and webhook deliveries), which returns the coroutine function that stops it."""

    app: Starlette
    start_extra: Callable[[], Awaitable[Callable[[], Awaitable[None]]]] | None = None
