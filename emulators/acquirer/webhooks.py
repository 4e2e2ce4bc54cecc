"""Signed webhook notifications, delivered in the background with retries.

Every status change of a payment is POSTed to the shop's notification URL as
``{"type": "notification", "event": "payment.succeeded", "object": <payment>}``, signed::

    X-Acquirer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

Each attempt is signed afresh with the time it is sent; the body stays the same. A
delivery that is not answered 2xx is retried after each delay of ``retry_delays_ms``, and
every attempt is logged and kept for ``GET /_admin/webhooks``. Knobs (``PUT
/_admin/webhooks``) make the sender misbehave the way real ones do: ``duplicate`` sends
every event twice, ``reorder`` holds events back and releases them newest first,
``delay_ms`` delays every first attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx

from emulators.base import Clock

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Acquirer-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class WebhookSettings:
    """Where notifications go and how the sender behaves; changed by ``PUT /_admin/webhooks``."""

    url: str
    secret: str
    enabled: bool = True
    """False: events are logged as skipped, nothing is sent."""
    retry_delays_ms: list[float] = field(default_factory=lambda: [1000.0, 5000.0, 30000.0])
    """Pause before each retry; attempts = len + 1."""
    timeout_ms: float = 5000.0
    """How long one attempt waits for the receiver's answer."""
    delay_ms: float = 0.0
    """Extra wait before the first attempt of every delivery (late notifications)."""
    duplicate: bool = False
    """Send every event twice (two deliveries, same body)."""
    reorder: bool = False
    """Hold events back and release them in pairs, newest first."""
    reorder_hold_ms: float = 1000.0
    """How long a lone held event waits for a partner before it is sent anyway."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown knobs or bad values raise ``ValueError``."""
        known = {f.name for f in fields(self)}
        staged = asdict(self)
        for name, raw in changes.items():
            if name not in known:
                raise ValueError(f"unknown webhook knob {name!r}; known: {sorted(known)}")
            current = staged[name]
            if isinstance(current, bool):
                if not isinstance(raw, bool):
                    raise ValueError(f"{name} must be true or false")
                staged[name] = raw
            elif isinstance(current, str):
                if not isinstance(raw, str):
                    raise ValueError(f"{name} must be a string")
                staged[name] = raw
            elif isinstance(current, list):
                if not isinstance(raw, list) or not all(
                    isinstance(item, int | float) and item >= 0 for item in raw
                ):
                    raise ValueError(f"{name} must be a list of non-negative numbers")
                staged[name] = [float(item) for item in raw]
            else:
                if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
                    raise ValueError(f"{name} must be a non-negative number")
                staged[name] = float(raw)
        for name, value in staged.items():
            setattr(self, name, value)

    def public(self) -> dict[str, Any]:
        """The knobs as JSON, the secret masked."""
        shown = asdict(self)
        shown["secret"] = "***"
        return shown


@dataclass
class Attempt:
    """One try to deliver a notification."""

    number: int
    at: str
    url: str
    status_code: int | None
    error: str | None
    signature: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        """The receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Delivery:
    """One notification on its way: the event, its body, and every attempt so far."""

    id: str
    event: str
    payment_id: str
    body: bytes
    created_at: str
    state: str = "queued"
    """queued → sending → delivered | failed | skipped."""
    attempts: list[Attempt] = field(default_factory=list)
    first_attempt_done: asyncio.Event | None = None

    def public(self) -> dict[str, Any]:
        """As ``GET /_admin/webhooks`` lists it."""
        return {
            "id": self.id,
            "event": self.event,
            "payment_id": self.payment_id,
            "state": self.state,
            "created_at": self.created_at,
            "body": json.loads(self.body),
            "attempts": [
                {
                    "number": a.number,
                    "at": a.at,
                    "url": a.url,
                    "status_code": a.status_code,
                    "error": a.error,
                    "signature": a.signature,
                    "duration_ms": a.duration_ms,
                }
                for a in self.attempts
            ],
        }


class BackgroundTasks:
    """The emulator's own asyncio tasks, so they can all be cancelled on reseed and shutdown.

    Tasks run in the emulators' event loop; :meth:`cancel_all` may be called from any
    thread (tests reseed from theirs) and, from another thread, waits until they are gone.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def count(self) -> int:
        """Tasks running now."""
        return len(self._tasks)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the loop the tasks run in."""
        self._loop = loop

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Start ``work`` in the running loop (must be called from it)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        task = loop.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("acquirer background task failed", exc_info=task.exception())

    async def cancel_and_wait(self) -> None:
        """Cancel every task and wait until all have stopped (in the tasks' loop)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def cancel_all(self) -> None:
        """Cancel every task, from whichever thread: from another thread, wait for them."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            for task in list(self._tasks):
                task.cancel()
            return
        future = asyncio.run_coroutine_threadsafe(self.cancel_and_wait(), loop)
        with contextlib.suppress(TimeoutError):
            future.result(timeout=5)


class WebhookSender:
    """Queues, signs and delivers notifications; keeps the log of deliveries."""

    def __init__(self, clock: Clock, tasks: BackgroundTasks, *, url: str, secret: str) -> None:
        self.clock = clock
        self.tasks = tasks
        self._defaults = (url, secret)
        self.settings = WebhookSettings(url=url, secret=secret)
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._held: list[list[Delivery]] = []
        self._generation = 0

    def reset(self) -> None:
        """Back to the configured target and knobs, no deliveries (tasks cancelled by the
        caller)."""
        with self._lock:
            self._generation += 1
            self.settings = WebhookSettings(url=self._defaults[0], secret=self._defaults[1])
            self._deliveries.clear()
            self._held.clear()

    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def publish(self, event: str, payment: dict[str, Any]) -> None:
        """Notify the shop of ``event`` about ``payment`` (called in the emulator's loop)."""
        body = json.dumps(
            {"type": "notification", "event": event, "object": payment},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        copies = 2 if self.settings.duplicate else 1
        group = [
            Delivery(
                id=str(uuid.uuid4()),
                event=event,
                payment_id=str(payment["id"]),
                body=body,
                created_at=self.clock.now().isoformat(),
                first_attempt_done=asyncio.Event(),
            )
            for _ in range(copies)
        ]
        with self._lock:
            self._deliveries.extend(group)
            generation = self._generation
            if not self.settings.enabled:
                for delivery in group:
                    delivery.state = "skipped"
                return
            if not self.settings.reorder:
                self._start(group, generation)
                return
            self._held.append(group)
            if len(self._held) >= 2:
                released = list(reversed(self._held))
                self._held.clear()
                self._start([d for held in released for d in held], generation)
                return
        self.tasks.spawn(self._release_later(group, generation), name="webhook-hold")

    def _start(self, ordered: list[Delivery], generation: int) -> None:
        """Start deliveries whose first attempts go out in this order."""
        previous: asyncio.Event | None = None
        for delivery in ordered:
            self.tasks.spawn(
                self._deliver(delivery, generation, after=previous),
                name=f"webhook-{delivery.id}",
            )
            previous = delivery.first_attempt_done

    async def _release_later(self, group: list[Delivery], generation: int) -> None:
        await asyncio.sleep(self.settings.reorder_hold_ms / 1000)
        with self._lock:
            if generation != self._generation or not any(g is group for g in self._held):
                return
            self._held = [g for g in self._held if g is not group]
        self._start(group, generation)

    async def _deliver(
        self, delivery: Delivery, generation: int, *, after: asyncio.Event | None
    ) -> None:
        if after is not None:
            await after.wait()
        if self.settings.delay_ms:
            await asyncio.sleep(self.settings.delay_ms / 1000)
        delivery.state = "sending"
        number = 0
        while True:
            if generation != self._generation:
                return
            number += 1
            attempt = await self._attempt(delivery, number)
            delivery.attempts.append(attempt)
            assert delivery.first_attempt_done is not None
            delivery.first_attempt_done.set()
            logger.info(
                "acquirer webhook attempt",
                extra={
                    "delivery": delivery.id,
                    "event": delivery.event,
                    "attempt": number,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                },
            )
            if attempt.ok:
                delivery.state = "delivered"
                return
            delays = self.settings.retry_delays_ms
            if number > len(delays):
                delivery.state = "failed"
                return
            await asyncio.sleep(delays[number - 1] / 1000)

    async def _attempt(self, delivery: Delivery, number: int) -> Attempt:
        settings = self.settings
        now = self.clock.now()
        signature = sign(settings.secret, int(now.timestamp()), delivery.body)
        status_code: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            async with httpx.AsyncClient(
                timeout=settings.timeout_ms / 1000, trust_env=False
            ) as client:
                response = await client.post(
                    settings.url,
                    content=delivery.body,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        SIGNATURE_HEADER: signature,
                        "X-Acquirer-Delivery": delivery.id,
                        "X-Acquirer-Attempt": str(number),
                        "User-Agent": "AcquirerNotifications/3.0",
                    },
                )
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Attempt(
            number=number,
            at=now.isoformat(),
            url=settings.url,
            status_code=status_code,
            error=error,
            signature=signature,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
