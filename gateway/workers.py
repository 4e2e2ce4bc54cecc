"""Stopping background workers between passes, not in the middle of a database call.

A task cancelled while an aiosqlite or asyncpg call is in flight leaves the driver's thread
or protocol answering a loop that may be gone; a worker asked to stop finishes its pass
and leaves. Cancellation stays the last resort after ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


async def stop_worker(
    task: asyncio.Task[None], request_stop: Callable[[], None], *, grace: float = 10.0
) -> None:
    """Ask the worker to stop, wait for it up to ``grace`` seconds, then cancel it."""
    request_stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        logger.warning(
            "worker %s did not stop within %.0f s and is cancelled", task.get_name(), grace
        )
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
