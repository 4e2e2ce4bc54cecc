"""The typed context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from gateway.services import Services


@dataclass
class Loaders:
    """Per-request DataLoaders (``<Thing>By<Key>Loader``); they batch and de-duplicate the
    upstream calls of one operation. Domains add theirs here."""


@dataclass
class Context:
    """What a resolver knows about the request it serves."""

    request: HTTPConnection
    response: Response | None
    services: Services
    loaders: Loaders = field(default_factory=Loaders)
    extras: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
"""The ``info`` argument of every resolver."""
