"""SOAP 1.1 on lxml: reading request envelopes, writing answers and Faults, the WSDL.

Requests are parsed with entities, DTDs and network access off, then the body's payload
is validated against the schema embedded in the WSDL, so the emulator accepts exactly what
its contract allows. Every error is a SOAP Fault: ``faultcode`` ``soap:Client`` (the
request is at fault) or ``soap:Server``, a Russian ``faultstring``, and a ``BillingFault``
detail with the machine code. As SOAP 1.1 over HTTP requires, every Fault goes out with
HTTP 500, business refusals included: clients must read the code, not the status.
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree

from emulators.base import UTILITY_TZ
from emulators.faults import CannedResponse

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:lkk:billing:v1"
"""The service's target namespace."""
XS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_PATH = Path(__file__).with_name("billing.wsdl")
CONTENT_TYPE = "text/xml; charset=utf-8"
MAX_REQUEST_BYTES = 1_000_000
CENT = Decimal("0.01")
_DEFAULT_NS: Any = {None: NS}  # lxml takes None for the default namespace; its stubs do not

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class BillingFault(Exception):
    """An error billing answers as a SOAP Fault."""

    def __init__(self, code: str, message: str, *, server: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.faultcode = "soap:Server" if server else "soap:Client"


def invalid(message: str) -> BillingFault:
    """``INVALID_REQUEST``: the request does not follow the contract."""
    return BillingFault("INVALID_REQUEST", f"Некорректный запрос: {message}")


def q(name: str) -> str:
    """A qualified name in the service's namespace."""
    return f"{{{NS}}}{name}"


# --- the WSDL --------------------------------------------------------------------------


@cache
def _wsdl_tree() -> etree._ElementTree:
    return etree.parse(str(WSDL_PATH), _PARSER)


def wsdl_document(address: str) -> bytes:
    """The WSDL, byte for byte as written, but for ``soap:address`` pointing at
    ``address`` (the emulator's own URL)."""
    location = quoteattr(address).encode()
    return _LOCATION.sub(lambda found: found.group(1) + location, _wsdl_bytes(), count=1)


@cache
def _wsdl_bytes() -> bytes:
    return WSDL_PATH.read_bytes()


_LOCATION = re.compile(rb'(<soap:address\s+location=)"[^"]*"')


@cache
def _schema() -> etree.XMLSchema:
    node = _wsdl_tree().getroot().find(f"{{{WSDL_NS}}}types/{{{XS}}}schema")
    assert node is not None, "the WSDL has no embedded schema"
    return etree.XMLSchema(etree.ElementTree(copy.deepcopy(node)))


# --- requests --------------------------------------------------------------------------


def parse_request(raw: bytes) -> etree._Element:
    """The payload of a SOAP 1.1 request's body, or a :class:`BillingFault`; see
    :func:`validate` for its content."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise invalid("размер запроса превышает 1 МБ")
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise invalid(f"тело не является XML ({exc.msg})") from exc
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack ``doctype``
    if docinfo.doctype:
        raise invalid("DTD не допускается")
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        fault = BillingFault(
            "INVALID_REQUEST", "Некорректный запрос: поддерживается только SOAP 1.1"
        )
        fault.faultcode = "soap:VersionMismatch"
        raise fault
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise invalid("ожидается элемент soap:Envelope")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None:
        raise invalid("нет элемента soap:Body")
    payload = [child for child in body if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise invalid("soap:Body должен содержать ровно один элемент")
    return payload[0]


def validate(request: etree._Element) -> None:
    """Raise ``INVALID_REQUEST`` unless the payload is what the WSDL's schema allows."""
    schema = _schema()
    if not schema.validate(etree.ElementTree(request)):
        log: Any = schema.error_log  # lxml-stubs lack ``last_error``
        error = log.last_error
        detail = error.message if error is not None else "не соответствует схеме"
        raise invalid(f"{etree.QName(request).localname}: {detail}")


def text(parent: etree._Element, name: str) -> str:
    """The text of a required child (schema-validated, so present)."""
    child = parent.find(q(name))
    if child is None or child.text is None:
        raise invalid(f"нет элемента {name}")
    return child.text.strip()


def texts(parent: etree._Element, name: str) -> list[str]:
    """The texts of a repeated child."""
    return [(child.text or "").strip() for child in parent.findall(q(name))]


def period_value(raw: str) -> date:
    """``YYYY-MM`` as the first day of that month."""
    year, month = raw.split("-")
    return date(int(year), int(month), 1)


def date_value(raw: str) -> date:
    """An ``xs:date`` (billing ignores a time zone on dates)."""
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise invalid(f"неверная дата {raw!r}") from exc


def datetime_value(raw: str) -> datetime:
    """An ``xs:dateTime``; without an offset it is the utility's local time."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise invalid(f"неверные дата и время {raw!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTILITY_TZ)
    return moment


# --- answers ---------------------------------------------------------------------------


def money_text(value: Decimal) -> str:
    """``xs:decimal`` with a dot and two decimals."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def time_text(moment: datetime) -> str:
    """Billing's times: the utility's local time to the second, with its offset."""
    return moment.astimezone(UTILITY_TZ).replace(microsecond=0).isoformat()


def period_text(period: date) -> str:
    """A month as ``YYYY-MM``."""
    return f"{period:%Y-%m}"


def element(name: str, *children: etree._Element, value: str | None = None) -> etree._Element:
    """An element of the service's namespace with children or a text value."""
    node = etree.Element(q(name), nsmap=_DEFAULT_NS)
    if value is not None:
        node.text = value
    node.extend(children)
    return node


def leaf(parent: etree._Element, name: str, value: str) -> etree._Element:
    """Append ``<name>value</name>`` to ``parent``."""
    node = etree.SubElement(parent, q(name))
    node.text = value
    return node


def envelope(payload: etree._Element) -> bytes:
    """A SOAP 1.1 envelope around ``payload``."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(root, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fault_body(fault: BillingFault) -> bytes:
    """The SOAP 1.1 Fault envelope of ``fault``."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = fault.faultcode
    etree.SubElement(node, "faultstring").text = fault.message
    detail = etree.SubElement(node, "detail")
    carried = etree.SubElement(detail, q("BillingFault"), nsmap={"b": NS})
    etree.SubElement(carried, q("Code")).text = fault.code
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def system_busy() -> CannedResponse:
    """What billing answers when it breaks inside (the ``error_rate`` fault): a retryable
    ``SYSTEM_BUSY`` Fault with HTTP 500."""
    fault = BillingFault(
        "SYSTEM_BUSY",
        "Система биллинга перегружена. Повторите запрос позже",
        server=True,
    )
    return CannedResponse(500, fault_body(fault), CONTENT_TYPE)
