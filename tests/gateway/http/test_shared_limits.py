"""With ``LKK_REDIS_URL`` the cost budgets and the APQ cache are shared by every replica, and a
Redis that stops answering lets requests through instead of failing them. Needs
``redis-server`` (``apt-get install redis-server``); skipped without it."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.host import EmulatorHost
from tests.gateway.http.support import gateway, post

APP_INFO = "query Version { appInfo { version } }"  # costs 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private Redis server on a free port, for this module only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        redis.Redis(port=port).flushall()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_replicas_share_one_budget_per_caller(
    emulators: EmulatorHost, tmp_path: Path, redis_url: str
) -> None:
    settings = {"redis_url": redis_url, "hourly_cost_budget": 6}
    async with (
        gateway(emulators, tmp_path / "a", **settings) as (_, first),
        gateway(emulators, tmp_path / "b", **settings) as (_, second),
    ):
        spent = [await post(replica, {"query": APP_INFO}) for replica in (first, second, first)]
        over = await post(second, {"query": APP_INFO})

    assert [response.status_code for response in spent] == [200, 200, 200]
    assert over.status_code == 429
    assert over.json()["errors"][0]["extensions"]["rateLimit"] == "hourlyCostBudget"


async def test_a_document_one_replica_learnt_by_apq_is_found_by_another(
    emulators: EmulatorHost, tmp_path: Path, redis_url: str
) -> None:
    document = "query Shared { appInfo { version schemaVersion } }"
    extensions = {
        "persistedQuery": {
            "version": 1,
            "sha256Hash": hashlib.sha256(document.encode()).hexdigest(),
        }
    }
    async with (
        gateway(emulators, tmp_path / "a", redis_url=redis_url) as (_, first),
        gateway(emulators, tmp_path / "b", redis_url=redis_url) as (_, second),
    ):
        learnt = await post(first, {"query": document, "extensions": extensions})
        found = await second.get("/graphql", params={"extensions": json.dumps(extensions)})

    assert learnt.status_code == 200
    assert found.status_code == 200
    assert found.json() == learnt.json()


async def test_with_redis_gone_requests_pass_and_apq_misses(
    emulators: EmulatorHost, tmp_path: Path
) -> None:
    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    extensions = {
        "persistedQuery": {
            "version": 1,
            "sha256Hash": hashlib.sha256(APP_INFO.encode()).hexdigest(),
        }
    }
    async with gateway(emulators, tmp_path, redis_url=dead, hourly_cost_budget=2) as (_, http):
        budgeted = [await post(http, {"query": APP_INFO}) for _ in range(3)]
        sent = await post(http, {"query": APP_INFO, "extensions": extensions})
        by_hash = await post(http, {"extensions": extensions})

    assert [r.status_code for r in budgeted] == [200, 200, 200]  # the budget fails open
    assert sent.status_code == 200
    assert by_hash.status_code == 404  # nothing could be kept: the client sends it again
    assert by_hash.json()["errors"][0]["message"] == "PersistedQueryNotFound"
