"""The gateway's idea of now, injectable so that tests can stand at any moment (the 10th of
the month, the 25th at midnight in Yekaterinburg, a code five minutes old)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Real time, optionally frozen or shifted (tests)."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        """Now, aware, in UTC."""
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def freeze(self, moment: datetime) -> None:
        """Stand still at ``moment`` (aware)."""
        if moment.tzinfo is None:
            raise ValueError("moment must carry a time zone")
        self._frozen = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta`` (frozen or not)."""
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta
