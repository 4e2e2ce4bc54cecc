"""The identity rules of the product, pure functions (tested without GraphQL).

Passwords and logins (manual 5.4.2): 6 to 12 characters; Latin or Cyrillic letters, digits,
the special characters ``! " № ; % ? *``; no spaces. E-mail: Latin only, no ``.рф`` (CONT-1).
Phone: 11 digits of a Russian federal mobile number (CONT-2).
"""

from __future__ import annotations

import re

from gateway.errors import DomainError, ErrorCode

ACCOUNT_NUMBER = re.compile(r"^\d{10}$")
_ALLOWED = re.compile(r'^[A-Za-zА-Яа-яЁё0-9!"№;%?*]+$')
_SPACE = re.compile(r"\s")
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_PHONE_NOISE = re.compile(r"[\s\-()]")


def check_account_number(value: str, field: str = "accountNumber") -> str:
    """The 10-digit personal account number (ЛС), surrounding blanks removed."""
    number = value.strip()
    if not ACCOUNT_NUMBER.match(number):
        raise DomainError(ErrorCode.ACCOUNT_NUMBER_INVALID, field)
    return number


def normalize_name(value: str) -> str:
    """A name for comparison: no surrounding blanks, one case, Ё as Е (billing's way)."""
    return " ".join(value.split()).upper().replace("Ё", "Е")


def surname_matches(owner_full_name: str, surname: str) -> bool:
    """Whether ``surname`` is the surname in billing's full owner name (REG-1): case, ё/е
    and surrounding blanks do not matter."""
    given = normalize_name(surname)
    parts = normalize_name(owner_full_name).split(" ")
    return bool(given) and parts[0] == given


def check_password(password: str, field: str = "password") -> None:
    """Raise unless ``password`` follows the password rules."""
    _check_secret_like(
        password,
        field,
        length=ErrorCode.PASSWORD_LENGTH,
        spaces=ErrorCode.PASSWORD_SPACES,
        characters=ErrorCode.PASSWORD_CHARACTERS,
    )


def check_login(login: str, field: str = "newLogin") -> str:
    """The new login, if it follows the login rules (the password's character set)."""
    _check_secret_like(
        login,
        field,
        length=ErrorCode.LOGIN_LENGTH,
        spaces=ErrorCode.LOGIN_CHARACTERS,
        characters=ErrorCode.LOGIN_CHARACTERS,
    )
    return login


def _check_secret_like(
    value: str, field: str, *, length: ErrorCode, spaces: ErrorCode, characters: ErrorCode
) -> None:
    if _SPACE.search(value):
        raise DomainError(spaces, field)
    if not 6 <= len(value) <= 12:
        raise DomainError(length, field)
    if not _ALLOWED.match(value):
        raise DomainError(characters, field)


def login_key(login: str) -> str:
    """How logins are compared for uniqueness and sign-in: case-insensitive, Ё as Е."""
    return login.strip().casefold().replace("ё", "е")


def normalize_email(value: str, field: str = "value") -> str:
    """A Latin e-mail address (CONT-1), domain lower-cased; ``.рф`` refused by name."""
    email = value.strip()
    domain = email.rpartition("@")[2].casefold()
    if domain.endswith((".рф", ".xn--p1ai")) or domain in ("рф", "xn--p1ai"):
        raise DomainError(ErrorCode.EMAIL_RF_UNSUPPORTED, field)
    if _NON_ASCII.search(email):
        raise DomainError(ErrorCode.EMAIL_NOT_LATIN, field)
    if len(email) > 254 or not _EMAIL.match(email):
        raise DomainError(ErrorCode.EMAIL_INVALID, field)
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_phone(value: str, field: str = "value") -> str:
    """11 digits ``79XXXXXXXXX`` from ``+7…``, ``8…``, ``7…``, with spaces, dashes and
    brackets allowed (CONT-2)."""
    digits = _PHONE_NOISE.sub("", value.strip())
    if digits.startswith("+7"):
        digits = "7" + digits[2:]
    elif digits.startswith("8") and len(digits) == 11:
        digits = "7" + digits[1:]
    if not (len(digits) == 11 and digits.isdigit() and digits.startswith("79")):
        raise DomainError(ErrorCode.PHONE_INVALID, field)
    return digits


def mask_email(email: str) -> str:
    """``iv***@mail.ru``: enough to recognise, not enough to harvest (logs, answers)."""
    local, _, domain = email.partition("@")
    return f"{local[:2]}***@{domain}"


def mask_phone(phone: str) -> str:
    """``+7 912 ***-**-89``."""
    return f"+7 {phone[1:4]} ***-**-{phone[-2:]}"
