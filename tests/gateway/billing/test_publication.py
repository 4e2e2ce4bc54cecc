"""The publication rule (CHG-2) at its edges, in the utility's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.billing.publication import Publication, add_months

UTILITY = ZoneInfo("Asia/Yekaterinburg")
RULE = Publication(UTILITY, day=10)


@pytest.mark.parametrize(
    ("moment", "latest", "next_date"),
    [
        (datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTILITY), date(2026, 1, 1), date(2026, 3, 10)),
        (datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTILITY), date(2026, 2, 1), date(2026, 4, 10)),
        (datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTILITY), date(2026, 2, 1), date(2026, 4, 10)),
        (datetime(2027, 1, 9, 23, 59, 59, tzinfo=UTILITY), date(2026, 11, 1), date(2027, 1, 10)),
        (datetime(2027, 1, 10, 0, 0, 0, tzinfo=UTILITY), date(2026, 12, 1), date(2027, 2, 10)),
        # 19:00 UTC on the 9th is already 00:00 of the 10th in Yekaterinburg (UTC+5)
        (datetime.fromisoformat("2026-03-09T19:00:00+00:00"), date(2026, 2, 1), date(2026, 4, 10)),
        (datetime.fromisoformat("2026-03-09T18:59:59+00:00"), date(2026, 1, 1), date(2026, 3, 10)),
    ],
)
def test_the_statement_of_a_month_is_out_from_the_10th_of_the_next_in_utility_time(
    moment: datetime, latest: date, next_date: date
) -> None:
    assert RULE.latest_period(moment) == latest
    assert RULE.next_publication(moment) == next_date
    assert RULE.is_published(latest, moment)
    assert not RULE.is_published(add_months(latest, 1), moment)


def test_the_publication_day_is_configurable() -> None:
    rule = Publication(UTILITY, day=3)
    moment = datetime(2026, 3, 3, 0, 0, tzinfo=UTILITY)

    assert rule.latest_period(moment) == date(2026, 2, 1)
    assert rule.next_publication(moment) == date(2026, 4, 3)
