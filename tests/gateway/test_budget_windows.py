"""The in-process budgets (fixed windows) that the hourly cost budget spends from."""

from __future__ import annotations

from gateway.security.ratelimit import FixedWindows, Limit

HOURLY = Limit("cost-budget:customer", 100, 3600)


def test_a_budget_is_spent_to_the_edge_and_a_charge_past_it_takes_nothing() -> None:
    # given
    windows = FixedWindows()
    assert windows.spend(HOURLY, 60, ("u1",), now=1000.0)

    # when
    refused = windows.spend(HOURLY, 41, ("u1",), now=1001.0)
    exact = windows.spend(HOURLY, 40, ("u1",), now=1002.0)

    # then
    assert not refused
    assert exact
    assert windows.balance(HOURLY, ("u1",), now=1003.0) == (0, 4600.0)
    assert not windows.spend(HOURLY, 1, ("u1",), now=1003.0)


def test_the_window_ends_an_hour_after_its_first_charge_and_the_next_starts_full() -> None:
    # given
    windows = FixedWindows()
    windows.spend(HOURLY, 100, ("u1",), now=1000.0)

    # when
    renewed = windows.spend(HOURLY, 30, ("u1",), now=4600.0)

    # then
    assert renewed
    assert windows.balance(HOURLY, ("u1",), now=4601.0) == (70, 8200.0)


def test_callers_and_budgets_are_counted_apart_and_an_untouched_one_is_full() -> None:
    # given
    windows = FixedWindows()
    other = Limit("cost-budget:api_key", 10, 3600)

    # when
    windows.spend(HOURLY, 100, ("u1",), now=1000.0)

    # then
    assert windows.spend(HOURLY, 100, ("u2",), now=1000.0)
    assert windows.spend(other, 10, ("u1",), now=1000.0)
    assert windows.balance(HOURLY, ("u3",), now=1000.0) == (100, None)
    assert not windows.spend(HOURLY, 101, ("u4",), now=1000.0)  # more than a whole budget


def test_expired_windows_are_swept_once_the_map_has_grown() -> None:
    # given
    windows = FixedWindows()
    for n in range(1024):
        windows.spend(HOURLY, 1, (f"old-{n}",), now=1000.0)

    # when: an hour later, a new caller's first charge finds the map full
    windows.spend(HOURLY, 1, ("new",), now=4600.0)

    # then
    assert len(windows._windows) == 1
    assert windows.balance(HOURLY, ("old-1",), now=4600.0) == (100, None)
