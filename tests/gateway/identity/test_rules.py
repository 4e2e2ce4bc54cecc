"""Identity rules without GraphQL: account numbers, surnames, passwords, logins, contacts."""

from __future__ import annotations

import pytest

from gateway.errors import DomainError, ErrorCode
from gateway.identity.rules import (
    check_account_number,
    check_login,
    check_password,
    login_key,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
    surname_matches,
)


def code_of(call: object, *args: str) -> ErrorCode:
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.code


@pytest.mark.parametrize("number", ["720000000", "72000000011", "72000000O1", "", "7200 000001"])
def test_an_account_number_must_be_ten_digits(number: str) -> None:
    assert code_of(check_account_number, number) is ErrorCode.ACCOUNT_NUMBER_INVALID


def test_an_account_number_may_carry_surrounding_blanks() -> None:
    assert check_account_number("  7200000001 ") == "7200000001"


@pytest.mark.parametrize(
    ("owner", "surname"),
    [
        ("ИВАНОВА МАРИЯ ПЕТРОВНА", "Иванова"),
        ("ИВАНОВА МАРИЯ ПЕТРОВНА", "  иванова "),
        ("СЕМИНА ОЛЬГА", "Сёмина"),
        ("СЕМИНА ОЛЬГА", "СЁМИНА"),
        ("ПЕТРОВ АЛЕКСЕЙ ИВАНОВИЧ", "петров"),
    ],
)
def test_a_surname_matches_ignoring_case_yo_and_blanks(owner: str, surname: str) -> None:
    assert surname_matches(owner, surname)


@pytest.mark.parametrize("surname", ["Иванов", "Петрова", "", "  ", "Мария", "Иванова Мария"])
def test_other_words_do_not_match_the_surname(surname: str) -> None:
    assert not surname_matches("ИВАНОВА МАРИЯ ПЕТРОВНА", surname)


@pytest.mark.parametrize("password", ["Demo2026!", "абвгдЁ", '"№;%?*12', "123456", "Aa1Aa1Aa1Aa1"])
def test_passwords_by_the_rules_are_accepted(password: str) -> None:
    check_password(password)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Ab1!", ErrorCode.PASSWORD_LENGTH),
        ("Abcdefgh12345", ErrorCode.PASSWORD_LENGTH),
        ("Demo 2026", ErrorCode.PASSWORD_SPACES),
        ("Demo2026@", ErrorCode.PASSWORD_CHARACTERS),
        ("Démo2026", ErrorCode.PASSWORD_CHARACTERS),
    ],
)
def test_passwords_against_the_rules_are_refused_with_their_own_code(
    password: str, code: ErrorCode
) -> None:
    assert code_of(check_password, password) is code


def test_a_login_follows_the_same_rules() -> None:
    assert check_login("Мария1") == "Мария1"
    assert code_of(check_login, "м ария") is ErrorCode.LOGIN_CHARACTERS
    assert code_of(check_login, "abc") is ErrorCode.LOGIN_LENGTH


def test_logins_compare_without_case_and_yo() -> None:
    assert login_key(" Сёмина1 ") == login_key("семина1")


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("Ivanova@Mail.RU", "Ivanova@mail.ru"),
        (" m.ivanova+lkk@example.ru ", "m.ivanova+lkk@example.ru"),
    ],
)
def test_latin_emails_are_accepted_and_their_domain_lower_cased(raw: str, email: str) -> None:
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("мария@почта.рф", ErrorCode.EMAIL_RF_UNSUPPORTED),
        ("maria@example.рф", ErrorCode.EMAIL_RF_UNSUPPORTED),
        ("maria@xn--80a1acny.xn--p1ai", ErrorCode.EMAIL_RF_UNSUPPORTED),
        ("мария@mail.ru", ErrorCode.EMAIL_NOT_LATIN),
        ("maria@mail", ErrorCode.EMAIL_INVALID),
        ("maria.mail.ru", ErrorCode.EMAIL_INVALID),
        ("maria@@mail.ru", ErrorCode.EMAIL_INVALID),
    ],
)
def test_emails_against_the_rules_are_refused(raw: str, code: ErrorCode) -> None:
    assert code_of(normalize_email, raw) is code


@pytest.mark.parametrize(
    "raw", ["+7 912 345-67-89", "89123456789", "8 (912) 345 67 89", "79123456789", "+79123456789"]
)
def test_russian_mobile_numbers_are_normalised_to_eleven_digits(raw: str) -> None:
    assert normalize_phone(raw) == "79123456789"


@pytest.mark.parametrize(
    "raw", ["+7 3452 12-34-56", "9123456789", "+1 912 345 67 89", "7912345678a", ""]
)
def test_other_numbers_are_refused(raw: str) -> None:
    assert code_of(normalize_phone, raw) is ErrorCode.PHONE_INVALID


def test_personal_data_is_masked_for_logs() -> None:
    assert mask_email("ivanova@mail.ru") == "iv***@mail.ru"
    assert mask_phone("79123456789") == "+7 912 ***-**-89"
