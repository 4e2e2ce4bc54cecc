"""How metering writes dates, times, numbers and codes on the wire (its legacy quirks).

Dates are ``dd.mm.yyyy``, periods ``mm.yyyy``, times ``dd.mm.yyyy HH:MM:SS`` in the utility's
local time without an offset, and meter values are strings with a decimal comma and one
fractional digit (``"12345,6"``). Statuses and reading sources are Russian words.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from emulators.base import UTILITY_TZ

ACTIVE = "Действует"
"""Status of a meter in service."""
CLOSED = "Закрыт"
"""Status of a dismantled meter (history only)."""

CUSTOMER = "Абонент"
"""Reading source: the customer submitted it."""
CONTROL = "Контрольное снятие"
"""Reading source: the utility's inspector read the meter (locks the period)."""
DISMANTLING = "Демонтаж"
"""Reading source: the final reading when the meter was removed (locks the period)."""
LOCKING_SOURCES = (CONTROL, DISMANTLING)
"""Sources after which customers can no longer change the period (MTR-4)."""

ACCEPTED = "Принято"
"""Status of a reading that counts."""
REPLACED = "Заменено"
"""Status of a customer reading superseded by a later submission of the same period."""

TENTH = Decimal("0.1")
_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_VALUE = re.compile(r"^\d{1,9}(,\d)?$")


def render_date(day: date) -> str:
    """``dd.mm.yyyy``."""
    return f"{day:%d.%m.%Y}"


def parse_date(text: str) -> date:
    """A ``dd.mm.yyyy`` date; ``ValueError`` for anything else."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"not a dd.mm.yyyy date: {text!r}")
    day, month, year = (int(part) for part in match.groups())
    return date(year, month, day)


def render_period(day: date) -> str:
    """The billing period of ``day``: ``mm.yyyy``."""
    return f"{day:%m.%Y}"


def render_time(moment: datetime) -> str:
    """``dd.mm.yyyy HH:MM:SS``, local time of the utility, no offset (as the old system)."""
    return f"{moment.astimezone(UTILITY_TZ):%d.%m.%Y %H:%M:%S}"


def render_value(value: Decimal) -> str:
    """A meter value with a decimal comma and one fractional digit: ``"12345,6"``."""
    return str(value.quantize(TENTH)).replace(".", ",")


def parse_value(text: str) -> Decimal:
    """A submitted value: digits, optionally a comma and one digit; ``ValueError`` otherwise
    (a dot, a sign, blanks or two fractional digits are refused, as the old system does)."""
    if not _VALUE.match(text):
        raise ValueError(f"not a meter value: {text!r}")
    return Decimal(text.replace(",", ".")).quantize(TENTH)
