"""The background workers leave when the gateway stops, without being cancelled."""

from __future__ import annotations

import logging

import pytest

from gateway.app import create_app
from gateway.settings import Settings


async def test_a_gateway_stopped_right_after_it_started_lets_its_workers_finish(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given a gateway whose workers (outbox, payment reconciliation) have just been started
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="gateway.workers"):
        async with app.router.lifespan_context(app):
            pass  # when it stops at once, before their first pass

    # then each leaves when asked, rather than being cancelled after the grace period
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.workers"] == []
