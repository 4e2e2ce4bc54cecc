"""Metering's nightly maintenance: a daily window, in the utility's local time, when every
API call is answered ``503`` with a Russian notice and ``Retry-After``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class MaintenanceWindow:
    """A daily window ``[start, end)``; it may run past midnight (``23:50-00:20``)."""

    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> MaintenanceWindow | None:
        """``"HH:MM-HH:MM"``, or None for an empty string (no maintenance)."""
        text = spec.strip()
        if not text:
            return None
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"maintenance window must be 'HH:MM-HH:MM' or empty: {spec!r}")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        window = cls(time(start_h, start_m), time(end_h, end_m))
        if window.start == window.end:
            raise ValueError(f"maintenance window is empty: {spec!r}")
        return window

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def covers(self, local: datetime) -> bool:
        """Whether the local moment falls inside the window."""
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def seconds_left(self, local: datetime) -> int:
        """Whole seconds (at least 1) from ``local`` to the window's end."""
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return max(1, int((end - local).total_seconds() + 0.999))


class MaintenanceSchedule:
    """The window in force: the configured one, changeable at run time through
    ``PUT /_admin/maintenance`` and put back on reseed."""

    def __init__(self, configured: MaintenanceWindow | None) -> None:
        self.configured = configured
        self.window = configured

    def reset(self) -> None:
        """Back to the configured window."""
        self.window = self.configured

    def active(self, local: datetime) -> MaintenanceWindow | None:
        """The window if ``local`` falls inside it, else None."""
        window = self.window
        return window if window is not None and window.covers(local) else None
