"""The gateway in-process (httpx over ASGI, lifespan run) against the emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from emulators.host import EmulatorHost
from gateway.app import create_app
from gateway.clock import Clock
from gateway.settings import Environment, Settings


def settings_for(emulators: EmulatorHost, data_dir: Path, **overrides: object) -> Settings:
    """Gateway settings pointing at the test emulators, a private store, short timeouts,
    cheap password hashing, and the demo's own data (the registered customer, demo keys)."""
    values: dict[str, object] = {
        "environment": Environment.DEMO,
        "data_dir": data_dir,
        **upstream_settings(emulators),
        "upstream_timeout": 1.0,
        "gc_threshold": 0,  # many apps in one process: freezing would keep each one forever
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def upstream_settings(emulators: EmulatorHost) -> dict[str, object]:
    """The settings every test gateway shares: the emulators' addresses, no cached upstream
    status, and password hashing cheap enough for tests."""
    config = emulators.config
    return {
        "billing_url": config.billing_url,
        "metering_url": config.metering_url,
        "acquirer_url": config.acquirer_url,
        "sms_url": config.sms_url,
        "smtp_host": config.host,
        "smtp_port": config.smtp_port,
        "status_cache_seconds": 0,
        "argon2_memory_kib": 64,
        "argon2_time_cost": 1,
    }


@pytest.fixture
def settings(emulators: EmulatorHost, tmp_path: Path) -> Settings:
    """Settings of a gateway wired to the emulators."""
    return settings_for(emulators, tmp_path)


@pytest.fixture
def clock() -> Clock:
    """The gateway's clock; tests move it forward."""
    return Clock()


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    """The gateway app with its lifespan entered (store migrated, adapters open)."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the in-process gateway."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http:
        yield http
