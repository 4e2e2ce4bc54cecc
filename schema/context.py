"""The typed context every resolver receives as ``info.context``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TypeVar

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from adapters.billing import AccountBalance, BillingAccount
from adapters.cache import ACCOUNTS, BALANCES, METERS, Cached
from adapters.metering import Meter
from gateway.identity.apikeys import ApiPrincipal
from gateway.identity.service import ContactChannel, ContactState
from gateway.identity.sessions import Client, Viewer
from gateway.readings.service import Submission
from gateway.services import Services
from schema.billing.loaders import BillingLoaders

K = TypeVar("K")
T = TypeVar("T")


class PeekingLoader(DataLoader[K, T]):
    """A DataLoader that first asks ``peek`` whether the value is already in this process's
    memory (a session's accounts, fresh cached meters): such a value is answered at once,
    with no batch. A batch costs a request a few turns of the event loop (its dispatch is
    scheduled, then run as a task, then wakes the resolver), which is most of the loop's
    work in a pass-through served from the caches (docs/performance.md). ``peek`` returns
    ``None`` when it does not know; the key then joins the batch as usual."""

    def __init__(
        self,
        load_fn: Callable[[list[K]], Awaitable[Sequence[T | BaseException]]],
        peek: Callable[[K], T | None],
    ) -> None:
        super().__init__(load_fn)
        self.peek = peek

    def load(self, key: K) -> Awaitable[T]:
        if self.cache_map.get(key) is None:
            found = self.peek(key)
            if found is not None:
                future = self.loop.create_future()
                future.set_result(found)
                self.cache_map.set(key, future)
                return future
        return super().load(key)


ContactsByUserLoader = DataLoader[uuid.UUID, dict[ContactChannel, ContactState]]
AccountsByUserLoader = PeekingLoader[uuid.UUID, list[str]]
AccountByNumberLoader = PeekingLoader[str, Cached[BillingAccount] | None]
BalanceByNumberLoader = PeekingLoader[str, Cached[AccountBalance] | None]
MetersByAccountLoader = PeekingLoader[str, Cached[list[Meter]]]
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
        accounts = self.services.accounts
        return AccountsByUserLoader(accounts.numbers_of_users, accounts.numbers_in_memory)

    @cached_property
    def account_by_number(self) -> AccountByNumberLoader:
        accounts = self.services.accounts

        async def account_batch(
            numbers: list[str],
        ) -> list[Cached[BillingAccount] | None | BaseException]:
            found = await accounts.accounts(numbers)
            return [found[n] for n in numbers]

        return AccountByNumberLoader(account_batch, partial(accounts.in_memory, ACCOUNTS))

    @cached_property
    def balance_by_number(self) -> BalanceByNumberLoader:
        accounts = self.services.accounts

        async def balance_batch(
            numbers: list[str],
        ) -> list[Cached[AccountBalance] | None | BaseException]:
            found = await accounts.balances(numbers)
            return [found[n] for n in numbers]

        return BalanceByNumberLoader(balance_batch, partial(accounts.in_memory, BALANCES))

    @cached_property
    def meters_by_account(self) -> MetersByAccountLoader:
        accounts = self.services.accounts

        async def meters_batch(numbers: list[str]) -> list[Cached[list[Meter]] | BaseException]:
            found = await accounts.meters(numbers)
            return [found[n] for n in numbers]

        return MetersByAccountLoader(meters_batch, partial(accounts.in_memory, METERS))

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
