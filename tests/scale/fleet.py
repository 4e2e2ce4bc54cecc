"""Several gateway processes on one PostgreSQL and one Redis, as a deployment runs them.

:class:`Fleet` starts ``lkk serve`` replicas as subprocesses (real processes: nothing is
shared but the store, Redis and the upstreams), :class:`RoundRobin` spreads requests over
them the way the load balancer of ``deploy/compose.yaml`` does, and :class:`TcpProxy` stands
between a replica and an upstream so that a test can hold that replica's answers back
(a replica stuck mid-call, to be killed there) or cut Redis away (a blip).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulators.host import EmulatorHost
from gateway.clock import Clock
from gateway.identity.apikeys import ApiKeys
from gateway.identity.demo import seed_demo
from gateway.security.passwords import Argon2Cost, Passwords
from gateway.settings import Settings
from gateway.store.db import Store
from gateway.system.policy import current_policy
from tests.gateway.conftest import upstream_settings
from tests.support import graphql

START_SECONDS = 60.0
"""How long a replica may take to answer ``/readyz`` (imports, store, adapters)."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def replica_settings(
    emulators: EmulatorHost, database_url: str, redis_url: str, **overrides: object
) -> dict[str, str]:
    """``LKK_*`` variables of a replica: the test's store, Redis and emulators, the demo's
    data (the registered customer), quick retries, cheap hashing, and a readings window open
    whatever today is."""
    values: dict[str, object] = {
        "environment": "demo",
        "migrate_on_start": "false",  # the test migrated the store, as `lkk migrate` would
        "database_url": database_url,
        "redis_url": redis_url,
        **upstream_settings(emulators),
        "upstream_timeout": 2.0,
        "breaker_reset_seconds": 1,
        "outbox_poll_seconds": 0.2,
        "outbox_backoff_seconds": 0.2,
        "outbox_backoff_max_seconds": 1.0,
        "outbox_lease_seconds": 5,
        "outbox_max_attempts": 1000,
        "readings_window_first_day": 1,
        "readings_window_last_day": 31,
        "payment_booking_check_seconds": 0.2,
        "payment_reconcile_seconds": 1,
        "log_format": "text",
        **overrides,
    }
    return {f"LKK_{name.upper()}": str(value) for name, value in values.items()}


@dataclass
class Replica:
    """One ``lkk serve`` process."""

    name: str
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Where it serves HTTP."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Its GraphQL WebSocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def is_running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.returncode is None

    def tail(self, lines: int = 40) -> str:
        """The end of its log, for a failing test's message."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def start(self, environment: Mapping[str, str]) -> None:
        """Spawn the process (its output goes to :attr:`log`)."""
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                env={**environment, "LKK_PORT": str(self.port), "LKK_PUBLIC_URL": self.url},
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    async def wait_ready(self, http: httpx.AsyncClient) -> None:
        """Wait until ``/readyz`` answers 200 (the store answers)."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            if not self.is_running:
                raise AssertionError(f"{self.name} exited at start:\n{self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready in {START_SECONDS} s:\n{self.tail()}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no settling of leases, as a crashed machine."""
        assert self.process is not None
        self.process.kill()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within ten seconds."""
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except TimeoutError:
                self.process.kill()
        await self.process.wait()


@dataclass
class Fleet:
    """Replicas started on one store and one Redis."""

    replicas: list[Replica]
    http: httpx.AsyncClient
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, replica: Replica | int) -> httpx.AsyncClient:
        """An HTTP client of one replica."""
        chosen = self.replicas[replica] if isinstance(replica, int) else replica
        if chosen.name not in self.clients:
            self.clients[chosen.name] = httpx.AsyncClient(base_url=chosen.url, timeout=30)
        return self.clients[chosen.name]

    def round_robin(self) -> RoundRobin:
        """A client that sends each request to the next live replica."""
        return RoundRobin(self)

    async def metrics(self, replica: Replica | int) -> dict[str, float]:
        """One replica's ``/metrics``, as ``name{labels}`` → value."""
        text = (await self.client(replica).get("/metrics")).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                found[name] = float(value)
        return found


class RoundRobin:
    """Sends each request to the next live replica, as a round-robin load balancer."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._turns = itertools.cycle(range(len(fleet.replicas)))

    def next(self) -> httpx.AsyncClient:
        """The client of the next replica whose process is alive."""
        for _ in range(len(self.fleet.replicas)):
            replica = self.fleet.replicas[next(self._turns)]
            if replica.is_running:
                return self.fleet.client(replica)
        raise AssertionError("no replica is running")

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One operation on the next replica."""
        return await graphql(self.next(), query, variables, headers=headers)


async def seed_demo_data(database_url: str) -> None:
    """The demo customer and keys, written once before the replicas start (each replica in
    demo mode would write them if missing, and three at once would collide)."""
    store = Store(database_url)
    clock = Clock()
    try:
        await seed_demo(
            store,
            Passwords(Argon2Cost(time_cost=1, memory_cost_kib=64)),
            ApiKeys(store, clock),
            current_policy(Settings().privacy_policy_version, "http://127.0.0.1"),
            clock,
        )
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def running_fleet(
    folder: Path,
    environment: Mapping[str, str],
    *,
    count: int = 3,
    per_replica: Mapping[int, Mapping[str, str]] | None = None,
) -> AsyncIterator[Fleet]:
    """``count`` replicas started together (on a store :func:`seed_demo_data` has seeded),
    stopped (SIGTERM) on exit; their logs stay in ``folder``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LKK_")}
    replicas = [
        Replica(f"replica-{n}", free_port(), folder / f"replica-{n}.log") for n in range(count)
    ]
    extra = per_replica or {}
    async with httpx.AsyncClient() as http:
        fleet = Fleet(replicas, http)
        try:
            for n, replica in enumerate(replicas):
                await replica.start({**base, **environment, **extra.get(n, {})})
            await asyncio.gather(*(replica.wait_ready(http) for replica in replicas))
            yield fleet
        finally:
            for client in fleet.clients.values():
                await client.aclose()
            await asyncio.gather(*(replica.stop() for replica in replicas))


class TcpProxy:
    """A TCP relay to ``host:port`` on a port of its own. While :attr:`holding`, what the
    target answers is kept back from the client (the client waits, mid-call); while
    :attr:`cut`, connections are closed and new ones refused (the target is unreachable)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.holding = False
        self.held = asyncio.Event()
        """Set once an answer has been kept back."""
        self._released = asyncio.Event()
        self.held_requests: list[bytes] = []
        """What the clients sent on the connections whose answers were kept back."""
        self._server: asyncio.Server | None = None
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen (on the same port as before, after :meth:`restore`); the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def release(self) -> None:
        """Stop holding answers back, and pass on those held so far."""
        self.holding = False
        self._released.set()

    async def cut(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for client, upstream in list(self._connections):
            client.close()
            upstream.close()
        self._connections.clear()

    async def restore(self) -> None:
        """Listen again after :meth:`cut`."""
        await self.start()

    async def close(self) -> None:
        """Stop for good."""
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self._connections.add(pair)
        sent = bytearray()
        outward = asyncio.create_task(self._pump(reader, up_writer, sent))
        inward = asyncio.create_task(self._pump_back(up_reader, writer, sent))
        self._tasks.update((outward, inward))
        try:
            await asyncio.gather(outward, inward, return_exceptions=True)
        finally:
            self._tasks.difference_update((outward, inward))
            self._connections.discard(pair)
            writer.close()
            up_writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: bytearray
    ) -> None:
        while data := await reader.read(65536):
            sent.extend(data)
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _pump_back(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: bytearray
    ) -> None:
        while data := await reader.read(65536):
            if self.holding:
                self.held_requests.append(bytes(sent))
                self.held.set()
                await self._released.wait()
            sent.clear()
            writer.write(data)
            await writer.drain()
        writer.close()
