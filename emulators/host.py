"""Runs the emulators: each on its own port, all in one event loop.

Tests and ``lkk demo`` run them on a background thread with a loop of its own, so that the
gateway (or a test) never shares a loop with the servers it calls; zeep's synchronous WSDL
load, for one, would deadlock against a server in its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace

import uvicorn

from emulators.base import EmulatorParts, EmulatorRuntime, StateDB
from emulators.config import SYSTEMS, EmulatorConfig
from emulators.faults import Faults

logger = logging.getLogger(__name__)

_PORT_FIELDS = {
    "billing": "billing_port",
    "metering": "metering_port",
    "acquirer": "acquirer_port",
    "sms": "sms_port",
    "mail": "mail_http_port",
}

EmulatorFactory = Callable[[EmulatorConfig, EmulatorRuntime], EmulatorParts]


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when their
    # protocol says TCP; without it every reused connection waits ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _factory(system: str) -> EmulatorFactory:
    module = importlib.import_module(f"emulators.{system}")
    factory: EmulatorFactory = module.create
    return factory


class EmulatorHost:
    """Starts and stops a set of emulators. Port 0 in the config means "any free port";
    :attr:`config` holds the ports actually bound once started."""

    def __init__(self, config: EmulatorConfig, systems: tuple[str, ...] = SYSTEMS) -> None:
        self.requested = config
        self.config = config
        self.systems = systems
        self.runtimes: dict[str, EmulatorRuntime] = {}
        self._servers: list[uvicorn.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Bind every port, build the apps and start serving in the running loop."""
        sockets = {
            system: _bind(self.requested.host, getattr(self.requested, _PORT_FIELDS[system]))
            for system in self.systems
        }
        ports = {_PORT_FIELDS[s]: sock.getsockname()[1] for s, sock in sockets.items()}
        smtp_port = self.requested.smtp_port
        if "mail" in self.systems and smtp_port == 0:
            with contextlib.closing(_bind(self.requested.host, 0)) as probe:
                smtp_port = probe.getsockname()[1]
        self.config = replace(self.requested, smtp_port=smtp_port, **ports)
        for system, sock in sockets.items():
            runtime = EmulatorRuntime(
                name=system,
                db=StateDB(self.config.state_path(system)),
                faults=Faults.parse(self.config.faults.get(system, "")),
            )
            self.runtimes[system] = runtime
            parts = _factory(system)(self.config, runtime)
            server = uvicorn.Server(
                uvicorn.Config(
                    parts.app,
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    timeout_graceful_shutdown=1,
                )
            )
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
            if parts.start_extra is not None:
                self._stoppers.append(await parts.start_extra())
        while not all(server.started for server in self._servers):
            if any(task.done() for task in self._tasks):
                for task in self._tasks:
                    if task.done():
                        task.result()  # surfaces the startup failure
                raise RuntimeError("an emulator stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop every server and close the state files."""
        for stopper in self._stoppers:
            await stopper()
        for server in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for runtime in self.runtimes.values():
            runtime.db.close()
        self._servers.clear()
        self._tasks.clear()
        self._stoppers.clear()

    def start_in_thread(self) -> None:
        """Run the emulators on a background thread with its own loop; return once serving."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the starting thread below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="emulators", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def stop_thread(self) -> None:
        """Stop emulators started by :meth:`start_in_thread` and wait for the thread."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def urls(self) -> dict[str, str]:
        """Base URL of each running emulator (mail: its inbox pages)."""
        c = self.config
        every = {
            "billing": c.billing_url,
            "metering": c.metering_url,
            "acquirer": c.acquirer_url,
            "sms": c.sms_url,
            "mail": c.mail_url,
        }
        return {system: every[system] for system in self.systems}
