"""When a month's statement may be shown (CHG-2).

Billing closes month M and publishes its statement on the 10th of M+1 at midnight in the
utility's time zone (Tyumen: Asia/Yekaterinburg). The gateway applies the same rule by its
own clock, so that a period never shows early even if billing's clock runs ahead, and so
that it can say when the next statement will appear without asking billing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_of(day: date) -> date:
    """The period (first day of the month) ``day`` falls in."""
    return day.replace(day=1)


@dataclass(frozen=True)
class Publication:
    """The publication rule: the statement of month M appears on ``day`` of M+1, 00:00
    local time of the utility (CHG-2)."""

    timezone: ZoneInfo
    day: int = 10

    def published_at(self, period: date) -> datetime:
        """When the statement of ``period`` appears (aware, utility time)."""
        following = add_months(period, 1)
        return datetime.combine(following.replace(day=self.day), time(), tzinfo=self.timezone)

    def is_published(self, period: date, now: datetime) -> bool:
        """Whether the statement of ``period`` may be shown at ``now``."""
        return self.published_at(month_of(period)) <= now

    def latest_period(self, now: datetime) -> date:
        """The newest period whose statement is out at ``now``: last month from the 10th,
        the month before it until then."""
        this_month = month_of(now.astimezone(self.timezone).date())
        last_month = add_months(this_month, -1)
        return last_month if self.is_published(last_month, now) else add_months(this_month, -2)

    def next_publication(self, now: datetime) -> date:
        """The local date on which the next statement (the period after
        :meth:`latest_period`) appears."""
        upcoming = add_months(self.latest_period(now), 1)
        return self.published_at(upcoming).date()
