"""``lkk demo`` as a user runs it: one process, real sockets, Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

PORT_SETTINGS = (
    "LKK_PORT",
    "LKK_BILLING_PORT",
    "LKK_METERING_PORT",
    "LKK_ACQUIRER_PORT",
    "LKK_SMS_PORT",
    "LKK_MAIL_HTTP_PORT",
    "LKK_SMTP_PORT",
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _lkk() -> list[str]:
    script = Path(sys.executable).with_name("lkk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, int]]]:
    ports = dict(zip(PORT_SETTINGS, _free_ports(len(PORT_SETTINGS)), strict=True))
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "LKK_DATA_DIR": str(tmp_path / "data"),
        "LKK_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [*_lkk(), "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, ports
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(base: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"lkk demo exited early:\n{output}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("lkk demo did not become healthy in time")


def test_demo_serves_graphiql_probes_every_upstream_and_stops_on_ctrl_c(
    demo: tuple[subprocess.Popen[str], dict[str, int]],
) -> None:
    process, ports = demo
    base = f"http://127.0.0.1:{ports['LKK_PORT']}"
    _wait_ready(base, process)

    graphiql = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
    info = httpx.post(
        f"{base}/graphql",
        json={"query": "{ appInfo { upstreams { name state } } }"},
        timeout=10,
    ).json()
    outbox = httpx.get(f"http://127.0.0.1:{ports['LKK_SMS_PORT']}/sms/outbox")
    inbox = httpx.get(f"http://127.0.0.1:{ports['LKK_MAIL_HTTP_PORT']}/mail/inbox")

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)

    assert graphiql.status_code == 200
    assert "graphiql" in graphiql.text.lower()
    assert {u["name"]: u["state"] for u in info["data"]["appInfo"]["upstreams"]} == {
        "billing": "UP",
        "metering": "UP",
        "acquirer": "UP",
        "sms": "UP",
        "mail": "UP",
    }
    assert outbox.status_code == 200
    assert inbox.status_code == 200
    assert process.returncode == 0
    assert f"{base}/graphql" in output
    assert "7200000001 / Demo2026!" in output
    assert re.search(rf"127\.0\.0\.1:{ports['LKK_SMS_PORT']}/sms/outbox", output)
    assert re.search(rf"127\.0\.0\.1:{ports['LKK_MAIL_HTTP_PORT']}/mail/inbox", output)
