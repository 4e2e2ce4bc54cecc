"""The typed context every resolver receives as ``info.context``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from adapters.billing import AccountBalance, BillingAccount
from adapters.cache import Cached
from adapters.metering import Meter
from gateway.identity.apikeys import ApiPrincipal
from gateway.identity.service import ContactChannel, ContactState
from gateway.identity.sessions import Client, Viewer
from gateway.readings.service import Submission
from gateway.services import Services
from schema.billing.loaders import BillingLoaders

ContactsByUserLoader = DataLoader[uuid.UUID, dict[ContactChannel, ContactState]]
AccountsByUserLoader = DataLoader[uuid.UUID, list[str]]
AccountByNumberLoader = DataLoader[str, Cached[BillingAccount] | None]
BalanceByNumberLoader = DataLoader[str, Cached[AccountBalance] | None]
MetersByAccountLoader = DataLoader[str, Cached[list[Meter]]]
PendingByMeterLoader = DataLoader[str, list[Submission]]


class Loaders:
    """Per-request DataLoaders (``<Thing>By<Key>Loader``); they batch and de-duplicate the
    store and upstream calls of one operation. Each is made when a resolver first asks for
    it: most operations use one or two of them."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @cached_property
    def contacts_by_user(self) -> ContactsByUserLoader:
        return ContactsByUserLoader(self.services.identity.contacts_of_users)

    @cached_property
    def accounts_by_user(self) -> AccountsByUserLoader:
        return AccountsByUserLoader(self.services.accounts.numbers_of_users)

    @cached_property
    def account_by_number(self) -> AccountByNumberLoader:
        accounts = self.services.accounts

        async def account_batch(
            numbers: list[str],
        ) -> list[Cached[BillingAccount] | None | BaseException]:
            found = await accounts.accounts(numbers)
            return [found[n] for n in numbers]

        return AccountByNumberLoader(account_batch)

    @cached_property
    def balance_by_number(self) -> BalanceByNumberLoader:
        accounts = self.services.accounts

        async def balance_batch(
            numbers: list[str],
        ) -> list[Cached[AccountBalance] | None | BaseException]:
            found = await accounts.balances(numbers)
            return [found[n] for n in numbers]

        return BalanceByNumberLoader(balance_batch)

    @cached_property
    def meters_by_account(self) -> MetersByAccountLoader:
        accounts = self.services.accounts

        async def meters_batch(numbers: list[str]) -> list[Cached[list[Meter]] | BaseException]:
            found = await accounts.meters(numbers)
            return [found[n] for n in numbers]

        return MetersByAccountLoader(meters_batch)

    @cached_property
    def pending_by_meter(self) -> PendingByMeterLoader:
        return PendingByMeterLoader(self.services.readings.pending)

    @cached_property
    def billing(self) -> BillingLoaders:
        """Statements and payment history (``schema/billing/loaders.py``)."""
        return BillingLoaders(self.services)


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
    connection_params: dict[str, object] | None = None
    """The ``connection_init`` payload of a WebSocket (Strawberry sets it)."""


Info = StrawberryInfo[Context, None]
"""The ``info`` argument of every resolver."""
