"""The collector tuning of a served gateway (gateway/app.py, ``LKK_GC_THRESHOLD``). Checked in a
child process: freezing this test process would keep every later test's objects forever."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from gateway.app import tune_garbage_collector
before = gc.get_threshold()
tune_garbage_collector({threshold})
print(gc.get_threshold()[0], gc.get_freeze_count() > 0, gc.get_threshold()[1:] == before[1:])
"""


def probe(threshold: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(threshold=threshold)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.split()


def test_the_threshold_is_raised_and_what_lives_at_start_is_frozen() -> None:
    assert probe(10_000) == ["10000", "True", "True"]


def test_zero_leaves_the_collector_alone() -> None:
    assert probe(0) == ["700", "False", "True"]
