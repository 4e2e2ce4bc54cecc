"""Extensions whose hooks await (the store, Redis) run only where there is an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from strawberry.extensions import SchemaExtension


def on_event_loop(extension: type[SchemaExtension]) -> Callable[[], SchemaExtension]:
    """A factory for the schema's extensions: ``extension`` when the operation runs on an
    event loop (the app), a no-op for ``execute_sync`` (tools and tests without a loop),
    where an asynchronous hook could not run and there is no request to serve anyway."""

    def factory() -> SchemaExtension:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return SchemaExtension()
        return extension()

    return factory
