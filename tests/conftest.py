"""Fixtures shared by every test: the emulators over real sockets, reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from emulators.config import SYSTEMS, EmulatorConfig
from emulators.host import EmulatorHost


@pytest.fixture(scope="session")
def emulator_host() -> Iterator[EmulatorHost]:
    """All five emulators on free ports, state in memory, on a thread of their own."""
    config = EmulatorConfig(
        billing_port=0,
        metering_port=0,
        acquirer_port=0,
        sms_port=0,
        mail_http_port=0,
        smtp_port=0,
        data_dir=None,
        booking_delay_seconds=0.5,
        maintenance_window="",
        # nothing listens there: a demo on :8000 must never receive test notifications
        webhook_url="http://127.0.0.1:9/webhooks/acquirer",
    )
    # LKK_TEST_EMULATORS=billing,sms runs a subset while one emulator is being worked on.
    chosen = os.environ.get("LKK_TEST_EMULATORS", "")
    systems = tuple(s for s in chosen.split(",") if s) or SYSTEMS
    host = EmulatorHost(config, systems=systems)
    host.start_in_thread()
    yield host
    host.stop_thread()


@pytest.fixture
def emulators(emulator_host: EmulatorHost) -> EmulatorHost:
    """The emulators, healthy, with fresh demo data, real time and no calls counted."""
    for runtime in emulator_host.runtimes.values():
        runtime.faults.reset()
        runtime.clock.reset()
        runtime.reseed()
        runtime.calls.reset()
    return emulator_host
