"""The typed context every resolver receives as ``info.context``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from gateway.identity.apikeys import ApiPrincipal
from gateway.identity.service import ContactChannel, ContactState
from gateway.identity.sessions import Client, Viewer
from gateway.services import Services

ContactsByUserLoader = DataLoader[uuid.UUID, dict[ContactChannel, ContactState]]


@dataclass
class Loaders:
    """Per-request DataLoaders (``<Thing>By<Key>Loader``); they batch and de-duplicate the
    store and upstream calls of one operation."""

    contacts_by_user: ContactsByUserLoader

    @classmethod
    def create(cls, services: Services) -> Loaders:
        """Fresh loaders for one request."""
        return cls(contacts_by_user=ContactsByUserLoader(services.identity.contacts_of_users))


@dataclass
class Context:
    """What a resolver knows about the request it serves."""

    request: HTTPConnection
    response: Response | None
    services: Services
    client: Client
    loaders: Loaders
    viewer: Viewer | None = None
    """The signed-in customer, if the request carries a live session."""
    principal: ApiPrincipal | None = None
    """The partner or operator, if the request carries a valid API key."""


Info = StrawberryInfo[Context, None]
"""The ``info`` argument of every resolver."""
