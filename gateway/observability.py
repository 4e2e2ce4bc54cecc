"""Request ids and structured JSON logs (GW-5).

Every HTTP request gets an id (the caller's ``X-Request-ID`` when it is sane, else a new one),
echoed in the response and attached to every log record written while serving it, so one
customer's complaint can be followed through the gateway and into the upstream calls.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
"""The id of the request being served (empty outside a request)."""

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HEADER = b"x-request-id"


class _RequestIds:
    """New request ids: 32 hex digits, a random half drawn once per process and a counter.
    Unique across processes and restarts like a UUID4, without a system call for random
    bytes and a UUID object on every request (1.5 % of a pass-through, docs/performance.md).
    Ids are for finding a request in the logs, never a secret."""

    def __init__(self) -> None:
        self._count = itertools.count()
        self._prefix = ""
        self.redraw()
        os.register_at_fork(after_in_child=self.redraw)  # a forked worker draws its own half

    def redraw(self) -> None:
        """A new random half (at start, and in a forked child)."""
        self._prefix = os.urandom(8).hex()

    def new(self) -> str:
        """A fresh request id."""
        return f"{self._prefix}{next(self._count) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


new_request_id = _RequestIds().new
"""A fresh request id."""


class RequestIdMiddleware:
    """Assigns each HTTP and WebSocket request an id and echoes it as ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(_HEADER, b"").decode("latin-1")
        request_id = given if _SANE_ID.match(given) else new_request_id()
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


CHATTY_LIBRARIES = (
    "aiosqlite",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "asyncpg",
    "httpx",
    "httpcore",
    "zeep",
    "aiosmtplib",
    "mail.log",
    "redis",
    "hpack",
    "multipart",
)
"""Libraries whose DEBUG/INFO lines carry query parameters, request bodies or recipients —
a customer's phone, e-mail or name. They log warnings and errors only, whatever
``LKK_LOG_LEVEL`` says; our own loggers mask personal data themselves."""


class Throttle:
    """Says whether a repeated event may be logged now: at most once per ``seconds``, so a
    dependency that fails on every request (Redis gone) fills no disk; callers count every
    failure in a metric and log the running count when allowed."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._last = float("-inf")

    def allows(self) -> bool:
        """True at most once per ``seconds`` (and the first time)."""
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True


def quiet_libraries() -> None:
    """Keep the chatty libraries at WARNING (idempotent; the app factory calls it)."""
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str, *, structured: bool) -> None:
    """Send the process's logs to stderr, as JSON lines or as text for a person."""
    handler = logging.StreamHandler(sys.stderr)
    if structured:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
