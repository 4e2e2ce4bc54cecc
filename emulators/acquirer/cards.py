"""Bank cards as the acquirer's test mode sees them: validation and the test-card table.

A full card number lives only for the duration of one form post: it is checked, its
outcome looked up, and only ``first6``/``last4`` and the brand are kept (PCI DSS forbids
storing more, and the emulator behaves as if it were bound by it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class CardOutcome(StrEnum):
    """What the processor does with a test card."""

    SUCCEEDS = "succeeds"
    """Authorised at once, no 3-D Secure."""
    NEEDS_3DS = "needs_3ds"
    """The issuer asks for 3-D Secure; a right code authorises the payment."""
    DECLINED = "declined"
    """The issuer declines: insufficient funds."""
    TIMES_OUT = "times_out"
    """The processor never answers; the payment expires unconfirmed."""


@dataclass(frozen=True)
class SandboxCard:
    """One card of the test mode, shown on the checkout page."""

    number: str
    outcome: CardOutcome
    title: str
    """What the card does, in Russian, for the page."""


TEST_CARDS = (
    SandboxCard("5555555555554477", CardOutcome.SUCCEEDS, "успешная оплата без 3-D Secure"),
    SandboxCard("5555555555554444", CardOutcome.NEEDS_3DS, "успешная оплата с 3-D Secure"),
    SandboxCard("4111111111111111", CardOutcome.DECLINED, "отказ: недостаточно средств"),
    SandboxCard("4000000000000408", CardOutcome.TIMES_OUT, "банк не отвечает, платёж истекает"),
)
"""The test cards (any future expiry date, any three-digit CVC)."""

THREE_DS_CODE = "123456"
"""The one-time code the test issuer accepts on its 3-D Secure page."""


class CardError(ValueError):
    """The card form is filled wrongly; the message is shown on the page, in Russian."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Card:
    """A card that passed the form checks. ``number`` is never stored."""

    number: str
    expiry_month: int
    expiry_year: int

    @property
    def first6(self) -> str:
        """The BIN, kept and shown in the API."""
        return self.number[:6]

    @property
    def last4(self) -> str:
        """The last four digits, kept and shown in the API."""
        return self.number[-4:]

    @property
    def card_type(self) -> str:
        """The payment system, in the acquirer's spelling."""
        return card_type(self.number)

    @property
    def outcome(self) -> CardOutcome | None:
        """What the test mode does with this card; None: not a test card."""
        for sandbox_card in TEST_CARDS:
            if sandbox_card.number == self.number:
                return sandbox_card.outcome
        return None


def card_type(number: str) -> str:
    """``Visa``, ``MasterCard``, ``Mir`` or ``Unknown``, by the card's prefix."""
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "MasterCard"
    if "2200" <= number[:4] <= "2204":
        return "Mir"
    return "Unknown"


def passes_luhn(number: str) -> bool:
    """The Luhn checksum every card number carries."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


def parse_card(number: str, expiry: str, cvc: str, *, today: date) -> Card:
    """Check the card form as the hosted page does; raise :class:`CardError` on a mistake."""
    digits = re.sub(r"[\s-]", "", number)
    if not digits:
        raise CardError("card_number", "Введите номер карты")
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not passes_luhn(digits):
        raise CardError("card_number", "Неверный номер карты. Проверьте цифры")
    match = _EXPIRY.match(expiry)
    if match is None:
        raise CardError("expiry", "Укажите срок действия в формате ММ/ГГ")
    month, year = int(match.group(1)), int(match.group(2))
    if len(match.group(2)) == 2:
        year += 2000
    if not 1 <= month <= 12:
        raise CardError("expiry", "Неверный месяц в сроке действия")
    if (year, month) < (today.year, today.month):
        raise CardError("expiry", "Срок действия карты истёк")
    if year > today.year + 20:
        raise CardError("expiry", "Неверный срок действия карты")
    if not re.fullmatch(r"\d{3}", cvc.strip()):
        raise CardError("cvc", "CVC — три цифры с обратной стороны карты")
    return Card(digits, month, year)
