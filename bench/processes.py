"""Processes the benchmarks start: pinned to cores, waited for, measured, stopped.

Every server runs in a session of its own (``start_new_session``), so stopping it ends the
workers it forked too (uvicorn with ``LKK_WORKERS`` > 1, Hive Gateway's forks) and nothing
else. CPU time and memory are read from ``/proc`` for the process and all its descendants.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


PRIORITY = -10
"""Nice value of everything the bench starts when run as root: other work on a shared machine
(a test suite, a build) then waits for the measured processes, not the other way round."""


def pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    """``command`` under ``taskset -c cpus`` when pinning is possible here, at a raised
    priority when allowed (root)."""
    prefix: list[str] = []
    if os.geteuid() == 0 and shutil.which("nice") is not None:
        prefix = ["nice", "-n", str(PRIORITY)]
    if cpus is None or shutil.which("taskset") is None:
        return [*prefix, *command]
    return [*prefix, "taskset", "-c", cpus, *command]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(child) for child in text.split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(_children(current))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far, in seconds."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of a process tree now, in MiB."""
    total_pages = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total_pages += int(Path(f"/proc/{member}/statm").read_text().split()[1])
    return total_pages * PAGE_KIB / 1024


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class Usage:
    """What a process tree used over a measured interval."""

    cpu_seconds: float
    rss_mib_peak: float
    rss_mib_end: float
    machine_busy_share: float
    """Share of the whole machine's CPU that was busy (every process, ours or not)."""


class UsageMeter:
    """Samples a process tree's memory while load runs; reads its CPU time at both ends."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self._stop = threading.Event()
        self._peak = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._cpu0 = 0.0
        self._busy0 = (0.0, 0.0)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, rss_mib(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> UsageMeter:
        self._cpu0 = cpu_seconds(self.pid)
        self._busy0 = machine_busy()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def usage(self) -> Usage:
        """The interval's figures (after the ``with`` block)."""
        busy, total = machine_busy()
        spent = total - self._busy0[1]
        return Usage(
            cpu_seconds=cpu_seconds(self.pid) - self._cpu0,
            rss_mib_peak=max(self._peak, rss_mib(self.pid)),
            rss_mib_end=rss_mib(self.pid),
            machine_busy_share=(busy - self._busy0[0]) / spent if spent > 0 else 0.0,
        )


def wait_for_http(url: str, *, deadline: float = 60.0, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``url`` answers at all (any HTTP status), or fail if the process dies."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers; the status is the caller's business
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {deadline:.0f} s")


def port_in_use(url: str) -> bool:
    """Whether something accepts connections at the host and port of ``url``."""
    parsed = urllib.parse.urlsplit(url)
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.settimeout(1)
        return probe.connect_ex((parsed.hostname or "127.0.0.1", parsed.port or 80)) == 0


@dataclass
class Server:
    """A server the runner started: its command, where it answers, and its log."""

    name: str
    command: list[str]
    ready_url: str
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    cpus: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (``taskset`` execs the command, so it is the server)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self, *, deadline: float = 90.0) -> Server:
        """Start it pinned to :attr:`cpus` and wait until it answers."""
        if port_in_use(self.ready_url):
            raise RuntimeError(f"{self.ready_url}: something else already listens there")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            pinned(self.command, self.cpus),
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        try:
            wait_for_http(self.ready_url, deadline=deadline, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop it and everything it forked (its own process group), politely first."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
