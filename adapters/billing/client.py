"""Billing's client: its SOAP 1.1 web service through zeep's async client.

The WSDL is pinned: a copy ships in this package and is read from disk when the client is
built, so starting the gateway never fetches anything from billing (zeep loads WSDLs
synchronously, which would block the event loop) and a change of billing's contract shows
up as a failing contract test rather than as a surprise in production. The service is
bound to the configured URL, whatever ``soap:address`` the WSDL names.

Every call goes through :class:`~adapters.resilience.Resilience`. zeep and httpx failures
and billing's Faults are mapped onto :mod:`adapters.errors` here, and the answers are
turned into the records of :mod:`adapters.billing.models`; nothing of SOAP leaks out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import httpx
from lxml import etree
from opentelemetry.propagate import inject
from zeep import AsyncClient, Settings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from adapters.billing.models import (
    AccountBalance,
    AccountStatus,
    BillingAccount,
    BookedPayment,
    ChargeLine,
    GroupBalance,
    GroupTotals,
    PostedPayment,
    Statement,
    SupplierGroup,
)
from adapters.errors import (
    LegacyError,
    NotFound,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience import Resilience

UPSTREAM = "billing"
NAMESPACE = "urn:lkk:billing:v1"
WSDL_PATH = Path(__file__).with_name("billing.wsdl")
"""The pinned copy of billing's WSDL (``GET /billing?wsdl``)."""
BINDING = f"{{{NAMESPACE}}}BillingBinding"
MAX_BATCH = 50
"""Billing takes at most this many account numbers in one batch call."""
ACCOUNT_NUMBER = re.compile(r"^[0-9]{10}$")
CENT = Decimal("0.01")

NOT_FOUND_CODES = frozenset({"ACCOUNT_NOT_FOUND", "STATEMENT_NOT_FOUND"})
"""Fault codes that mean "no such thing" (:class:`~adapters.errors.NotFound`)."""
RETRYABLE_CODES = frozenset({"SYSTEM_BUSY"})
"""Fault codes that mean "try again later" (:class:`~adapters.errors.UpstreamUnavailable`)."""

_STATUSES = {"Открыт": AccountStatus.OPEN, "Закрыт": AccountStatus.CLOSED}

T = TypeVar("T")


def soap_http(
    base_url: str,
    *,
    timeout: float,
    connect_timeout: float,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 100,
    trace: bool = True,
) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` billing gets for the life of the app (zeep's async
    transport needs httpx): keep-alive connections pooled, the current trace carried to
    billing (W3C ``traceparent``) unless ``trace`` is off, as for
    :class:`~adapters.http.UpstreamHttp`."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
        event_hooks={"request": [_propagate_trace] if trace else []},
    )


async def _propagate_trace(request: httpx.Request) -> None:
    inject(request.headers)


def _refuse_fetch(request: httpx.Request) -> httpx.Response:
    raise RuntimeError(f"the billing WSDL is pinned; refusing to fetch {request.url}")


class BillingClient:
    """Billing's SOAP service (one instance, one HTTP client, for the app's life)."""

    name = UPSTREAM

    def __init__(self, http: httpx.AsyncClient, resilience: Resilience, url: str) -> None:
        self.http = http
        self.resilience = resilience
        self.url = url
        headers = http.headers.copy()
        # zeep wants a sync client for WSDL and XSD downloads; ours refuses them all, and
        # the pinned WSDL is read from disk right here, so it can be closed at once.
        with httpx.Client(transport=httpx.MockTransport(_refuse_fetch)) as wsdl_client:
            transport = AsyncTransport(client=http, wsdl_client=wsdl_client)  # type: ignore[no-untyped-call]
            self._zeep = AsyncClient(  # type: ignore[no-untyped-call]
                wsdl=str(WSDL_PATH),
                transport=transport,
                settings=Settings(strict=True, forbid_dtd=True, forbid_external=True),
            )
        http.headers = headers  # AsyncTransport overwrites the client's headers
        # zeep 4.3's AsyncClient.create_service returns a synchronous proxy whose calls
        # cannot await the async transport; the async proxy is built directly instead.
        binding = self._zeep.wsdl.bindings[BINDING]
        self._service = AsyncServiceProxy(self._zeep, binding, address=url)  # type: ignore[no-untyped-call]

    # --- operations --------------------------------------------------------------------

    async def get_accounts(self, numbers: Sequence[str]) -> dict[str, BillingAccount]:
        """The accounts billing knows among ``numbers``, by number.

        Unknown numbers are simply absent (billing leaves them out of its answer);
        numbers that are not ten digits cannot exist and are never sent. Duplicates are
        asked once; more than :data:`MAX_BATCH` numbers take one call per batch.
        """
        found: dict[str, BillingAccount] = {}
        for batch in _batches(numbers):
            answer = await self._call("GetAccounts", retry=True, AccountNumber=batch)
            for account in _parsed(_accounts, answer):
                found[account.number] = account
        return found

    async def get_balances(self, numbers: Sequence[str]) -> dict[str, AccountBalance]:
        """Debt and penalties per supplier group now, for the accounts billing knows
        among ``numbers`` (batched like :meth:`get_accounts`)."""
        found: dict[str, AccountBalance] = {}
        for batch in _batches(numbers):
            answer = await self._call("GetBalances", retry=True, AccountNumber=batch)
            for balance in _parsed(_balances, answer):
                found[balance.number] = balance
        return found

    async def get_statements(
        self, number: str, from_period: date, to_period: date
    ) -> list[Statement]:
        """The published statements of ``number`` for the months from ``from_period`` to
        ``to_period`` (any day in a month stands for the month), **newest first**.

        Months not yet published (before the 10th of the following month) are left out,
        so a range ending in the current month is safe. Raises :class:`NotFound` for an
        unknown account.
        """
        answer = await self._call(
            "GetStatements",
            retry=True,
            AccountNumber=number,
            FromPeriod=_period_text(from_period),
            ToPeriod=_period_text(to_period),
        )
        statements = _parsed(lambda raw: _statements(number, raw), answer)
        return sorted(statements, key=lambda s: s.period, reverse=True)

    async def get_receipt(self, number: str, period: date) -> bytes:
        """The printed receipt of a month's statement: PNG bytes (A4, 300 dpi).

        Raises :class:`UpstreamRejected` with code ``PERIOD_NOT_CLOSED`` while the month
        is not published yet, and :class:`NotFound` for an unknown account or a month
        without a statement.
        """
        answer = await self._call(
            "GetReceipt", retry=True, AccountNumber=number, Period=_period_text(period)
        )
        return _parsed(_receipt, answer)

    async def get_payments(self, number: str, from_: date, to: date) -> list[BookedPayment]:
        """Payments billing has booked for ``number`` that were paid between ``from_`` and
        ``to`` (the utility's local dates, inclusive), **newest first**.

        A payment posted through :meth:`post_payment` shows here only once billing has
        booked it, some time after it was accepted. Raises :class:`NotFound` for an
        unknown account.
        """
        answer = await self._call(
            "GetPayments", retry=True, AccountNumber=number, From=from_, To=to
        )
        payments = _parsed(_payments, answer)
        return sorted(payments, key=lambda p: (p.paid_at, p.payment_id), reverse=True)

    async def post_payment(
        self,
        external_id: str,
        number: str,
        group: SupplierGroup,
        amount: Decimal,
        paid_at: datetime,
        acquirer_ref: str,
    ) -> PostedPayment:
        """Hand a card payment to billing for booking into one supplier group.

        Retried on failure, and that is safe: billing is idempotent by ``external_id``,
        so a repeat with the same details returns the first answer instead of booking the
        money twice. The same ``external_id`` with other details is refused with
        :class:`UpstreamRejected` code ``DUPLICATE_EXTERNAL_ID``. ``amount`` is rounded
        to kopecks, ``paid_at`` must be aware (billing keeps it to the second).
        """
        if paid_at.tzinfo is None:
            raise ValueError("paid_at must carry a time zone")
        answer = await self._call(
            "PostPayment",
            retry=True,
            ExternalId=external_id,
            AccountNumber=number,
            SupplierGroup=group.value,
            Amount=amount.quantize(CENT, rounding=ROUND_HALF_UP),
            PaidAt=paid_at.astimezone(UTC).replace(microsecond=0),
            AcquirerRef=acquirer_ref,
        )
        return _parsed(_posted, answer)

    async def ping(self) -> None:
        """One cheap round trip (``GetSystemInfo``) for health probes."""
        answer = await self._call("GetSystemInfo", retry=False)
        _parsed(_system_time, answer)

    # --- plumbing ----------------------------------------------------------------------

    async def _call(self, operation: str, *, retry: bool, **params: Any) -> Any:
        async def once() -> Any:
            try:
                return await self._service[operation](**params)
            except Fault as exc:
                raise _fault(exc) from exc
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(
                    UPSTREAM, f"no answer in time ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(
                    UPSTREAM, f"transport failure ({type(exc).__name__})"
                ) from exc
            except TransportError as exc:
                if exc.status_code >= 500 or exc.status_code == 429:
                    raise UpstreamUnavailable(UPSTREAM, f"HTTP {exc.status_code}") from exc
                raise UpstreamMalformed(
                    UPSTREAM, f"not a SOAP answer (HTTP {exc.status_code})"
                ) from exc
            except (ZeepError, etree.XMLSyntaxError, InvalidOperation) as exc:
                raise UpstreamMalformed(UPSTREAM, f"unreadable answer: {exc!r}") from exc

        return await self.resilience.call(once, retry=retry)


def _fault(fault: Fault) -> LegacyError:
    """Billing's Fault as the adapter's exception."""
    code = _fault_code(fault.detail)
    message = (fault.message or "").strip()
    if code is None:
        if "server" in str(fault.code or "").lower():
            return UpstreamUnavailable(UPSTREAM, f"server fault without a code: {message}")
        return UpstreamMalformed(UPSTREAM, f"fault without a code: {message}")
    if code in NOT_FOUND_CODES:
        return NotFound(UPSTREAM, message, code=code)
    if code in RETRYABLE_CODES:
        return UpstreamUnavailable(UPSTREAM, f"{code}: {message}")
    return UpstreamRejected(UPSTREAM, code, message)


def _fault_code(detail: Any) -> str | None:
    if not isinstance(detail, etree._Element):
        return None
    node = detail.find(f".//{{{NAMESPACE}}}Code")
    if node is None or not (node.text or "").strip():
        return None
    return (node.text or "").strip()


def _batches(numbers: Iterable[str]) -> list[list[str]]:
    wanted = [n for n in dict.fromkeys(numbers) if ACCOUNT_NUMBER.match(n)]
    return [wanted[i : i + MAX_BATCH] for i in range(0, len(wanted), MAX_BATCH)]


def _period_text(period: date) -> str:
    return f"{period:%Y-%m}"


# --- parsing billing's answers -------------------------------------------------------


def _parsed(parse: Callable[[Any], T], raw: Any) -> T:
    """``parse(raw)``, with any surprise in the answer raised as UpstreamMalformed."""
    try:
        return parse(raw)
    except UpstreamMalformed:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise UpstreamMalformed(UPSTREAM, f"unexpected answer: {exc!r}") from exc


def _items(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TypeError(f"expected a list, got {type(raw).__name__}")
    return raw


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise ValueError(f"{name} is missing")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is missing")
    return value.strip()


def _money(value: Any, name: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a decimal")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError("expected a decimal")
    return value


def _moment(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a date and time")
    if value.tzinfo is None:
        raise ValueError(f"{name} has no offset")
    return value.astimezone(UTC)


def _day(value: Any, name: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a date")
    return value


def _group(value: Any) -> SupplierGroup:
    return SupplierGroup(value)


def _period(value: Any) -> date:
    year, month = _text(value, "Period").split("-")
    return date(int(year), int(month), 1)


def _accounts(raw: Any) -> list[BillingAccount]:
    accounts = []
    for item in _items(raw):
        status = _text(item.Status, "Status")
        if status not in _STATUSES:
            raise ValueError(f"unknown account status {status!r}")
        accounts.append(
            BillingAccount(
                number=_text(item.Number, "Number"),
                owner_name=_text(item.OwnerName, "OwnerName"),
                address=_text(item.Address, "Address"),
                status=_STATUSES[status],
                opened_on=_day(item.OpenedOn, "OpenedOn"),
            )
        )
    return accounts


def _balances(raw: Any) -> list[AccountBalance]:
    balances = []
    for item in _items(raw):
        groups = {
            _group(g.SupplierGroup): GroupBalance(
                debt=_money(g.Debt, "Debt"), penalties=_money(g.Penalties, "Penalties")
            )
            for g in _items(item.Group)
        }
        if set(groups) != set(SupplierGroup):
            raise ValueError(f"balances of groups {sorted(g.value for g in groups)}")
        balances.append(
            AccountBalance(
                number=_text(item.Number, "Number"),
                as_of=_moment(item.AsOf, "AsOf"),
                groups=MappingProxyType(groups),
            )
        )
    return balances


def _statements(number: str, raw: Any) -> list[Statement]:
    statements = []
    for item in _items(raw):
        charges = tuple(
            ChargeLine(
                service=_text(c.Service, "Service"),
                group=_group(c.SupplierGroup),
                supplier=_text(c.Supplier, "Supplier"),
                tariff=_decimal(c.Tariff),
                volume=_decimal(c.Volume),
                unit=c.Unit.strip() if isinstance(c.Unit, str) and c.Unit.strip() else None,
                amount=_money(c.Amount, "Amount"),
            )
            for c in _items(_required(item.Charges, "Charges").Charge)
        )
        groups = {
            _group(g.SupplierGroup): GroupTotals(
                opening_balance=_money(g.OpeningBalance, "OpeningBalance"),
                charged=_money(g.Charged, "Charged"),
                penalties=_money(g.Penalties, "Penalties"),
                paid=_money(g.Paid, "Paid"),
                closing_balance=_money(g.ClosingBalance, "ClosingBalance"),
            )
            for g in _items(_required(item.Groups, "Groups").Group)
        }
        statements.append(
            Statement(
                number=number,
                period=_period(item.Period),
                opening_balance=_money(item.OpeningBalance, "OpeningBalance"),
                charges=charges,
                charged=_money(item.Charged, "Charged"),
                penalties=_money(item.Penalties, "Penalties"),
                paid=_money(item.Paid, "Paid"),
                closing_balance=_money(item.ClosingBalance, "ClosingBalance"),
                due_date=None if item.DueDate is None else _day(item.DueDate, "DueDate"),
                groups=MappingProxyType(groups),
            )
        )
    return statements


def _receipt(raw: Any) -> bytes:
    content = _required(raw, "Receipt").Content
    if not isinstance(content, bytes) or not content.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("the receipt is not a PNG image")
    return content


def _payments(raw: Any) -> list[BookedPayment]:
    return [
        BookedPayment(
            payment_id=_text(item.PaymentId, "PaymentId"),
            external_id=item.ExternalId or None,
            group=_group(item.SupplierGroup),
            amount=_money(item.Amount, "Amount"),
            paid_at=_moment(item.PaidAt, "PaidAt"),
            booked_at=_moment(item.BookedAt, "BookedAt"),
            channel=_text(item.Channel, "Channel"),
            acquirer_ref=item.AcquirerRef or None,
        )
        for item in _items(raw)
    ]


def _posted(raw: Any) -> PostedPayment:
    return PostedPayment(
        payment_id=_text(raw.PaymentId, "PaymentId"),
        external_id=_text(raw.ExternalId, "ExternalId"),
        accepted_at=_moment(raw.AcceptedAt, "AcceptedAt"),
    )


def _system_time(raw: Any) -> datetime:
    _text(raw.Version, "Version")
    return _moment(raw.SystemTime, "SystemTime")
