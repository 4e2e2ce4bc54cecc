"""The typed context every resolver receives as ``info.context``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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


@dataclass
class Loaders:
    """Per-request DataLoaders (``<Thing>By<Key>Loader``); they batch and de-duplicate the
    store and upstream calls of one operation."""

    contacts_by_user: ContactsByUserLoader
    accounts_by_user: AccountsByUserLoader
    account_by_number: AccountByNumberLoader
    balance_by_number: BalanceByNumberLoader
    meters_by_account: MetersByAccountLoader
    pending_by_meter: PendingByMeterLoader
    billing: BillingLoaders
    """Statements and payment history (``schema/billing/loaders.py``)."""

    @classmethod
    def create(cls, services: Services) -> Loaders:
        """Fresh loaders for one request."""
        accounts = services.accounts

        async def account_batch(
            numbers: list[str],
        ) -> list[Cached[BillingAccount] | None | BaseException]:
            found = await accounts.accounts(numbers)
            return [found[n] for n in numbers]

        async def balance_batch(
            numbers: list[str],
        ) -> list[Cached[AccountBalance] | None | BaseException]:
            found = await accounts.balances(numbers)
            return [found[n] for n in numbers]

        async def meters_batch(numbers: list[str]) -> list[Cached[list[Meter]] | BaseException]:
            found = await accounts.meters(numbers)
            return [found[n] for n in numbers]

        return cls(
            contacts_by_user=ContactsByUserLoader(services.identity.contacts_of_users),
            accounts_by_user=AccountsByUserLoader(accounts.numbers_of_users),
            account_by_number=AccountByNumberLoader(account_batch),
            balance_by_number=BalanceByNumberLoader(balance_batch),
            meters_by_account=MetersByAccountLoader(meters_batch),
            pending_by_meter=PendingByMeterLoader(services.readings.pending),
            billing=BillingLoaders.create(services),
        )


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
