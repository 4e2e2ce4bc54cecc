"""The fault knobs every emulator shares, on a minimal app in-process."""

from __future__ import annotations

import random

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.base import EmulatorRuntime, StateDB, build_app
from emulators.faults import CannedResponse, Faults


def test_faults_parse_from_a_compact_spec() -> None:
    faults = Faults.parse("latency_ms=300, error_rate=0.25,outage=1")

    assert faults.as_dict() == {
        "latency_ms": 300.0,
        "jitter_ms": 0.0,
        "error_rate": 0.25,
        "outage": True,
        "slow_body_ms": 0.0,
        "malformed": False,
    }


@pytest.mark.parametrize("spec", ["latency=3", "error_rate=2", "latency_ms", "jitter_ms=-1"])
def test_a_bad_fault_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Faults.parse(spec)


async def hello(request: Request) -> Response:
    return JSONResponse({"hello": "мир", "padding": "x" * 200})


@pytest.fixture
async def system() -> tuple[EmulatorRuntime, httpx.AsyncClient]:
    runtime = EmulatorRuntime(name="toy", db=StateDB(None), rng=random.Random(1))
    app = build_app(
        runtime,
        [Route("/hello", hello)],
        error_response=lambda: CannedResponse(500, b'{"error":"boom"}', "application/json"),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://toy")
    return runtime, client


async def test_outage_answers_like_a_dead_backend_behind_nginx(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    async with client:
        await client.put("/_admin/faults", json={"outage": True})
        response = await client.get("/hello")

    assert response.status_code == 503
    assert "nginx" in response.text


async def test_error_rate_one_answers_every_request_with_the_system_error(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    runtime.faults.error_rate = 1
    async with client:
        statuses = {(await client.get("/hello")).status_code for _ in range(5)}

    assert statuses == {500}


async def test_malformed_answers_are_cut_and_garbled(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    runtime.faults.malformed = True
    async with client:
        response = await client.get("/hello")

    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"."):
        response.json()


async def test_slow_body_still_delivers_the_whole_answer(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    runtime.faults.slow_body_ms = 20
    async with client:
        response = await client.get("/hello")

    assert response.json()["hello"] == "мир"


async def test_the_admin_api_is_never_faulted_and_resets_everything(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    runtime.faults.outage = True
    runtime.calls.record("Hello")
    async with client:
        assert (await client.get("/_admin/calls")).json() == {
            "total": 1,
            "operations": {"Hello": 1},
        }
        reset = await client.post("/_admin/reset")
        faults = (await client.get("/_admin/faults")).json()

    assert reset.status_code == 200
    assert faults["outage"] is False
    assert runtime.calls.snapshot() == {}


async def test_the_clock_can_be_frozen_and_released(
    system: tuple[EmulatorRuntime, httpx.AsyncClient],
) -> None:
    runtime, client = system
    async with client:
        frozen = await client.put("/_admin/clock", json={"now": "2026-03-09T23:59:59+05:00"})
        assert runtime.clock.today().isoformat() == "2026-03-09"
        refused = await client.put("/_admin/clock", json={"now": "yesterday"})
        await client.delete("/_admin/clock")

    assert frozen.json() == {"now": "2026-03-09T18:59:59+00:00"}
    assert refused.status_code == 400
    assert runtime.clock.today().year >= 2026
