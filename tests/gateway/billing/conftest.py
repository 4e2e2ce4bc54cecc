"""Billing tests stand at a chosen moment: the gateway and billing agree on now."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from emulators.data import add_months
from emulators.host import EmulatorHost
from gateway.clock import Clock

UTILITY = ZoneInfo("Asia/Yekaterinburg")


def local(
    day: int, hour: int = 12, minute: int = 0, second: int = 0, *, months: int = 0
) -> datetime:
    """A moment of this month (or ``months`` later) in the utility's time zone."""
    month = add_months(datetime.now(UTILITY).date(), months)
    return datetime.combine(month.replace(day=day), time(hour, minute, second), tzinfo=UTILITY)


def freeze(clock: Clock, emulators: EmulatorHost, moment: datetime) -> None:
    """Both the gateway and billing stand at ``moment``."""
    clock.freeze(moment)
    emulators.runtimes["billing"].clock.freeze(moment)


@pytest.fixture
def clock(emulators: EmulatorHost) -> Clock:
    """The 5th of this month at noon: 24 statements are out (last month's is not yet)."""
    frozen = Clock()
    freeze(frozen, emulators, local(5))
    return frozen


def billing_calls(emulators: EmulatorHost) -> dict[str, int]:
    """Billing operations served since the last reset."""
    return emulators.runtimes["billing"].calls.snapshot()


def forget_calls(emulators: EmulatorHost) -> None:
    """Count billing's calls from here on."""
    emulators.runtimes["billing"].calls.reset()
