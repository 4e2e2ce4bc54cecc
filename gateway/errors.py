"""Every error a user can cause: a stable code, a Russian message, when it happens and what
the client should do. The schema exposes :class:`ErrorCode` as its ``ErrorCode`` enum and
``docs/errors.md`` is generated from :data:`CATALOGUE`, so neither can drift from the code.

Domain services raise :class:`DomainError`; the schema turns it into a ``UserError`` entry
of the mutation's payload (never a GraphQL error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine codes of expected failures (payload ``errors``)."""

    INVALID_INPUT = "INVALID_INPUT"
    ACCOUNT_NUMBER_INVALID = "ACCOUNT_NUMBER_INVALID"
    ACCOUNT_OR_SURNAME_MISMATCH = "ACCOUNT_OR_SURNAME_MISMATCH"
    ACCOUNT_ALREADY_REGISTERED = "ACCOUNT_ALREADY_REGISTERED"
    PASSWORD_LENGTH = "PASSWORD_LENGTH"
    PASSWORD_SPACES = "PASSWORD_SPACES"
    PASSWORD_CHARACTERS = "PASSWORD_CHARACTERS"
    PASSWORD_MISMATCH = "PASSWORD_MISMATCH"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    POLICY_VERSION_OUTDATED = "POLICY_VERSION_OUTDATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    SIGN_IN_LOCKED = "SIGN_IN_LOCKED"
    LOGIN_LENGTH = "LOGIN_LENGTH"
    LOGIN_CHARACTERS = "LOGIN_CHARACTERS"
    LOGIN_TAKEN = "LOGIN_TAKEN"
    NOTHING_TO_CHANGE = "NOTHING_TO_CHANGE"
    CURRENT_PASSWORD_INVALID = "CURRENT_PASSWORD_INVALID"
    EMAIL_INVALID = "EMAIL_INVALID"
    EMAIL_NOT_LATIN = "EMAIL_NOT_LATIN"
    EMAIL_RF_UNSUPPORTED = "EMAIL_RF_UNSUPPORTED"
    PHONE_INVALID = "PHONE_INVALID"
    CODE_INVALID = "CODE_INVALID"
    CODE_EXPIRED = "CODE_EXPIRED"
    CODE_ATTEMPTS_EXCEEDED = "CODE_ATTEMPTS_EXCEEDED"
    CODE_RESEND_COOLDOWN = "CODE_RESEND_COOLDOWN"
    CODE_HOURLY_LIMIT = "CODE_HOURLY_LIMIT"
    NO_PENDING_CONTACT = "NO_PENDING_CONTACT"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    REASON_REQUIRED = "REASON_REQUIRED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
    ACCOUNT_ALREADY_LINKED = "ACCOUNT_ALREADY_LINKED"
    ACCOUNT_LINKED_ELSEWHERE = "ACCOUNT_LINKED_ELSEWHERE"
    LAST_ACCOUNT = "LAST_ACCOUNT"
    METER_NOT_FOUND = "METER_NOT_FOUND"
    METER_CLOSED = "METER_CLOSED"
    READINGS_WINDOW_CLOSED = "READINGS_WINDOW_CLOSED"
    ZONES_MISMATCH = "ZONES_MISMATCH"
    READING_INVALID = "READING_INVALID"
    READING_BELOW_PREVIOUS = "READING_BELOW_PREVIOUS"
    READING_EXCEEDS_CAPACITY = "READING_EXCEEDS_CAPACITY"
    HIGH_CONSUMPTION_UNCONFIRMED = "HIGH_CONSUMPTION_UNCONFIRMED"
    PERIOD_LOCKED = "PERIOD_LOCKED"
    READING_REJECTED = "READING_REJECTED"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAYMENT_AMOUNT_INVALID = "PAYMENT_AMOUNT_INVALID"
    PAYMENT_AMOUNT_TOO_LARGE = "PAYMENT_AMOUNT_TOO_LARGE"
    RETURN_URL_INVALID = "RETURN_URL_INVALID"
    PAYMENT_IN_PROGRESS = "PAYMENT_IN_PROGRESS"
    PAYMENT_REJECTED = "PAYMENT_REJECTED"
    TOO_MANY_REPORTS = "TOO_MANY_REPORTS"


@dataclass(frozen=True)
class ErrorSpec:
    """What the catalogue says of one code."""

    message: str
    """The Russian message the customer reads."""
    when: str
    """When it happens (for developers)."""
    action: str
    """What the client should do."""


CATALOGUE: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_INPUT: ErrorSpec(
        "Проверьте введённые данные.",
        "An input value is malformed in a way no more specific code covers.",
        "Highlight the field named in `field` and let the user correct it.",
    ),
    ErrorCode.ACCOUNT_NUMBER_INVALID: ErrorSpec(
        "Номер лицевого счёта должен состоять из 10 цифр.",
        "The account number is not exactly 10 digits.",
        "Ask for the number again; show the hint about 10 digits.",
    ),
    ErrorCode.ACCOUNT_OR_SURNAME_MISMATCH: ErrorSpec(
        "Лицевой счёт не найден или фамилия собственника указана неверно. "
        "Проверьте номер лицевого счёта и фамилию.",
        "Billing knows no such account, or the surname is not the owner's. One message for "
        "both, so that nobody can find out which accounts exist.",
        "Let the user check both fields; offer the contact centre.",
    ),
    ErrorCode.ACCOUNT_ALREADY_REGISTERED: ErrorSpec(
        "Для этого лицевого счёта уже созданы учётные данные. Войдите или восстановите "
        "пароль; сбросить учётные данные можно через контактный центр.",
        "Someone has already registered with this account (REG-1).",
        "Offer sign-in, password recovery and the contact centre (ACC-OPS-1).",
    ),
    ErrorCode.PASSWORD_LENGTH: ErrorSpec(
        "Пароль должен содержать от 6 до 12 символов.",
        "The new password is shorter than 6 or longer than 12 characters.",
        "Show the password rules next to the field.",
    ),
    ErrorCode.PASSWORD_SPACES: ErrorSpec(
        "Пароль не должен содержать пробелов.",
        "The new password contains a space.",
        "Show the password rules next to the field.",
    ),
    ErrorCode.PASSWORD_CHARACTERS: ErrorSpec(
        'Пароль может содержать только латинские или русские буквы, цифры и символы ! " № ; % ? *',
        "The new password contains a character outside the allowed set.",
        "Show the password rules next to the field.",
    ),
    ErrorCode.PASSWORD_MISMATCH: ErrorSpec(
        "Пароль и подтверждение пароля не совпадают.",
        "The confirmation differs from the password.",
        "Clear the confirmation field and ask again.",
    ),
    ErrorCode.CONSENT_REQUIRED: ErrorSpec(
        "Чтобы зарегистрироваться, нужно дать согласие на обработку персональных данных.",
        "Registration without consent to personal-data processing (REG-1, REG-2).",
        "Show the privacy policy link and the consent checkbox.",
    ),
    ErrorCode.POLICY_VERSION_OUTDATED: ErrorSpec(
        "Политика конфиденциальности обновилась. Ознакомьтесь с новой редакцией и "
        "подтвердите согласие.",
        "The consent names a policy version that is not the current one (REG-2).",
        "Fetch `privacyPolicy` again, show it, and resend with its version.",
    ),
    ErrorCode.INVALID_CREDENTIALS: ErrorSpec(
        "Неверный логин или пароль.",
        "Unknown login or wrong password (one message for both, AUTH-4).",
        "Let the user try again; offer password recovery.",
    ),
    ErrorCode.SIGN_IN_LOCKED: ErrorSpec(
        "Слишком много неудачных попыток входа. Повторите попытку позже или восстановите пароль.",
        "Too many failed sign-ins for this login or from this address (AUTH-4); refused "
        "even with the right password until the window passes.",
        "Tell the user to wait; offer password recovery.",
    ),
    ErrorCode.LOGIN_LENGTH: ErrorSpec(
        "Логин должен содержать от 6 до 12 символов.",
        "The new login is shorter than 6 or longer than 12 characters (SET-2).",
        "Show the login rules next to the field.",
    ),
    ErrorCode.LOGIN_CHARACTERS: ErrorSpec(
        'Логин может содержать только латинские или русские буквы, цифры и символы ! " № ; % ? * '
        "и не должен содержать пробелов.",
        "The new login contains a space or a character outside the allowed set (SET-2).",
        "Show the login rules next to the field.",
    ),
    ErrorCode.LOGIN_TAKEN: ErrorSpec(
        "Этот логин уже занят. Выберите другой.",
        "Another user has this login, or it is another customer's account number.",
        "Ask for another login.",
    ),
    ErrorCode.NOTHING_TO_CHANGE: ErrorSpec(
        "Укажите новый логин или новый пароль.",
        "changeCredentials with neither a new login nor a new password.",
        "Ask for at least one of them.",
    ),
    ErrorCode.CURRENT_PASSWORD_INVALID: ErrorSpec(
        "Текущий пароль указан неверно.",
        "changeCredentials with a wrong current password (counts towards the sign-in lock).",
        "Let the user retype the current password.",
    ),
    ErrorCode.EMAIL_INVALID: ErrorSpec(
        "Укажите корректный адрес электронной почты, например ivanov@mail.ru.",
        "The e-mail address is malformed.",
        "Let the user correct the address.",
    ),
    ErrorCode.EMAIL_NOT_LATIN: ErrorSpec(
        "Адрес электронной почты должен быть написан латинскими буквами.",
        "The e-mail address contains non-Latin letters (CONT-1).",
        "Let the user enter a Latin address.",
    ),
    ErrorCode.EMAIL_RF_UNSUPPORTED: ErrorSpec(
        "Адреса в домене .рф не поддерживаются. Укажите другой адрес.",
        "The e-mail address is in the .рф domain (CONT-1).",
        "Let the user enter an address in another domain.",
    ),
    ErrorCode.PHONE_INVALID: ErrorSpec(
        "Укажите номер мобильного телефона России: 11 цифр, например +7 912 345-67-89.",
        "The phone is not a Russian federal mobile number (CONT-2).",
        "Let the user correct the number.",
    ),
    ErrorCode.CODE_INVALID: ErrorSpec(
        "Неверный код. Проверьте код и попробуйте ещё раз.",
        "The confirmation code is wrong (tries remain).",
        "Let the user retype the code.",
    ),
    ErrorCode.CODE_EXPIRED: ErrorSpec(
        "Срок действия кода истёк или код не запрашивался. Запросите новый код.",
        "No live code: it expired (5 min), was used, or was never sent.",
        "Offer to send a new code.",
    ),
    ErrorCode.CODE_ATTEMPTS_EXCEEDED: ErrorSpec(
        "Код введён неверно слишком много раз. Запросите новый код.",
        "Five wrong tries burned the code; even the right code is refused now.",
        "Offer to send a new code.",
    ),
    ErrorCode.CODE_RESEND_COOLDOWN: ErrorSpec(
        "Новый код можно запросить через минуту.",
        "A code was sent to this address less than the cooldown (60 s) ago.",
        "Show a countdown; enable the button when it ends.",
    ),
    ErrorCode.CODE_HOURLY_LIMIT: ErrorSpec(
        "Превышено число кодов за час. Попробуйте позже.",
        "Five codes were sent to this address within the last hour.",
        "Tell the user to try later.",
    ),
    ErrorCode.NO_PENDING_CONTACT: ErrorSpec(
        "Сначала укажите адрес или номер и запросите код.",
        "confirmContact without a saved, unconfirmed contact of that channel.",
        "Go back to the contact form.",
    ),
    ErrorCode.DELIVERY_FAILED: ErrorSpec(
        "Не удалось отправить код. Попробуйте позже.",
        "The SMS gateway or the mail server refused or is unavailable.",
        "Let the user retry in a while; the saved contact is kept.",
    ),
    ErrorCode.CUSTOMER_NOT_FOUND: ErrorSpec(
        "Учётные данные для этого лицевого счёта не найдены.",
        "An operator reset for an account nobody has registered.",
        "Tell the operator the account has no credentials to reset.",
    ),
    ErrorCode.REASON_REQUIRED: ErrorSpec(
        "Укажите причину сброса учётных данных.",
        "An operator reset without a reason (it is audited).",
        "Ask the operator for the reason.",
    ),
    ErrorCode.SERVICE_UNAVAILABLE: ErrorSpec(
        "Сервис временно недоступен. Попробуйте позже.",
        "A legacy system the operation needs is unavailable and nothing can stand in.",
        "Let the user retry later.",
    ),
    ErrorCode.ACCOUNT_NOT_FOUND: ErrorSpec(
        "Лицевой счёт не найден среди ваших счетов.",
        "An account number that is not linked to the signed-in "
        "customer (or a partner key not granted it).",
        "Refresh the list of accounts.",
    ),
    ErrorCode.ACCOUNT_ALREADY_LINKED: ErrorSpec(
        "Этот лицевой счёт уже добавлен в ваш личный кабинет.",
        "linkAccount for an account the customer already has.",
        "Show the account list; nothing changed.",
    ),
    ErrorCode.ACCOUNT_LINKED_ELSEWHERE: ErrorSpec(
        "Этот лицевой счёт уже подключён к другому личному кабинету.",
        "linkAccount for an account that belongs to another customer's credentials.",
        "Suggest the contact centre if the customer owns the account.",
    ),
    ErrorCode.LAST_ACCOUNT: ErrorSpec(
        "Нельзя удалить единственный лицевой счёт.",
        "unlinkAccount of the customer's only account (ACC-1).",
        "Hide the delete action when one account is left.",
    ),
    ErrorCode.METER_NOT_FOUND: ErrorSpec(
        "Прибор учёта не найден.",
        "A meter id that is not on any of the customer's accounts.",
        "Refresh the meter list.",
    ),
    ErrorCode.METER_CLOSED: ErrorSpec(
        "Прибор учёта закрыт: передача показаний невозможна, доступна только история.",
        "submitReadings for a closed meter (MTR-1).",
        "Show the history only; see Meter.canSubmit.",
    ),
    ErrorCode.READINGS_WINDOW_CLOSED: ErrorSpec(
        "Показания принимаются только в период приёма показаний.",
        "submitReadings outside the monthly window in the utility's time zone (MTR-2).",
        "Show Account.readingsWindow; try again when it opens.",
    ),
    ErrorCode.ZONES_MISMATCH: ErrorSpec(
        "Укажите по одному показанию для каждой тарифной зоны прибора учёта.",
        "Missing, repeated or foreign tariff zones in submitReadings (MTR-3).",
        "Ask for exactly the zones of Meter.zones.",
    ),
    ErrorCode.READING_INVALID: ErrorSpec(
        "Показание должно быть неотрицательным числом с не более чем одним знаком после запятой.",
        "A negative value or one with too many decimals.",
        "Correct the value.",
    ),
    ErrorCode.READING_BELOW_PREVIOUS: ErrorSpec(
        "Показание меньше предыдущего принятого.",
        "A value below the last accepted reading of that zone, with no rollover possible (MTR-4).",
        "Check the value against the meter's display.",
    ),
    ErrorCode.READING_EXCEEDS_CAPACITY: ErrorSpec(
        "Показание превышает разрядность прибора учёта.",
        "A value with more integer digits than the meter has (MTR-4).",
        "Check the value against the meter's display.",
    ),
    ErrorCode.HIGH_CONSUMPTION_UNCONFIRMED: ErrorSpec(
        "Расход по показанию необычно большой. Проверьте показание и подтвердите его.",
        "Consumption above the configured ceiling without confirmHighConsumption (MTR-4).",
        "Ask the customer to confirm, then resend with confirmHighConsumption: true.",
    ),
    ErrorCode.PERIOD_LOCKED: ErrorSpec(
        "Показания за этот период уже зафиксированы контрольным "
        "снятием или демонтажом и не могут быть изменены.",
        "Metering locked the period (control reading or dismantling, MTR-6).",
        "Tell the customer; nothing to retry.",
    ),
    ErrorCode.READING_REJECTED: ErrorSpec(
        "Показание не принято системой учёта.",
        "Metering refused the value for a reason of its own (its Russian message is passed on).",
        "Show the message; let the customer correct the value.",
    ),
    ErrorCode.IDEMPOTENCY_KEY_INVALID: ErrorSpec(
        "Некорректный ключ идемпотентности.",
        "An idempotency key that is empty or longer than 64 characters or has "
        "characters other than letters, digits, '-' and '_'.",
        "Generate a UUID per user action.",
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: ErrorSpec(
        "Этот ключ идемпотентности уже использован для другого запроса.",
        "The same idempotency key with different parameters (PAY-5, MTR-7).",
        "Generate a new key for a new action.",
    ),
    ErrorCode.PAYMENT_AMOUNT_INVALID: ErrorSpec(
        "Сумма платежа должна быть больше нуля и содержать не более двух знаков после запятой.",
        "startPayment with a zero, negative or sub-kopeck amount (PAY-2).",
        "Let the user correct the amount.",
    ),
    ErrorCode.PAYMENT_AMOUNT_TOO_LARGE: ErrorSpec(
        "Сумма платежа превышает допустимую для одного платежа.",
        "startPayment above LKK_PAYMENT_MAX_AMOUNT (the message names the limit).",
        "Let the user pay in several payments or lower the amount.",
    ),
    ErrorCode.RETURN_URL_INVALID: ErrorSpec(
        "Некорректный адрес возврата после оплаты.",
        "startPayment with a returnUrl that is not an absolute http(s) URL of an allowed "
        "origin (the gateway's and LKK_CORS_ORIGINS).",
        "A client bug: send the app's own return address.",
    ),
    ErrorCode.PAYMENT_IN_PROGRESS: ErrorSpec(
        "Платёж с этим ключом ещё создаётся. Повторите запрос через несколько секунд.",
        "A duplicate of a startPayment that is still waiting for the acquirer (PAY-5).",
        "Repeat the same request (same idempotencyKey) a little later.",
    ),
    ErrorCode.PAYMENT_REJECTED: ErrorSpec(
        "Платёжный сервис отклонил платёж. Деньги не списаны. Попробуйте позже.",
        "The acquirer refused to create the payment (its code is logged); the same key "
        "gets the same answer.",
        "Tell the user; a new attempt needs a new idempotencyKey.",
    ),
    ErrorCode.TOO_MANY_REPORTS: ErrorSpec(
        "Слишком много отчётов. Попробуйте позже.",
        "reportDiagnostics over the hourly allowance of one customer or client address.",
        "Keep the report and send it later.",
    ),
}


class DomainError(Exception):
    """An expected refusal of a product rule: its :class:`ErrorCode`, the input ``field`` it
    concerns (if any), and the Russian message (the catalogue's unless given)."""

    def __init__(self, code: ErrorCode, field: str | None = None, message: str | None = None):
        self.code = code
        self.field = field
        self.message = message or CATALOGUE[code].message
        super().__init__(f"{code}: {self.message}")


class DomainErrors(Exception):
    """Several independent refusals found at once (every wrong field of a form), so that the
    client can mark them all in one round trip."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def collect(*checks: Callable[[], object]) -> None:
    """Run independent checks; raise one :class:`DomainErrors` with every refusal."""
    errors: list[DomainError] = []
    for check in checks:
        try:
            check()
        except DomainError as exc:
            errors.append(exc)
    if errors:
        raise DomainErrors(errors)


def catalogue_markdown() -> str:
    """``docs/errors.md``: every code with its message and meaning, generated from
    :data:`CATALOGUE` (``make docs``) so that it cannot drift."""
    lines = [
        "# Error catalogue",
        "",
        "Generated from `gateway/errors.py` (`make docs`); a test fails when it is stale.",
        "",
        "Expected failures come back in the mutation's payload, `errors: [UserError!]!`, each",
        "with a stable `code`, the input `field` it concerns and a Russian `message` to show.",
        "GraphQL `errors` are for access and the unexpected; their `extensions.code` is one of",
        "`UNAUTHENTICATED` (no live session), `FORBIDDEN` (missing scope or not yours),",
        "`RATE_LIMITED` (a usage limit: `extensions.rateLimit` names it, `retryAfter` and",
        "`resetAt` say when to come back), `UPSTREAM_UNAVAILABLE` (a legacy system is down and",
        "no cached data can",
        "stand in; the other fields still render), `QUERY_TOO_COMPLEX` (over the cost budget),",
        "`QUERY_TOO_DEEP`, `TOO_MANY_ALIASES`, `QUERY_TOO_LARGE` (too many tokens),",
        "`PAGE_SIZE_TOO_LARGE` (`first` over 100), `BAD_USER_INPUT` (an argument out of range,",
        "e.g. a malformed cursor), `PERSISTED_QUERY_NOT_FOUND` (an unknown document id: APQ",
        "clients resend the document, partners register it), `PERSISTED_QUERY_REQUIRED` (a",
        "partner key sent a document instead of a registered id), `PERSISTED_QUERY_NOT_SUPPORTED`,",
        "`INTROSPECTION_DISABLED` (production), `BAD_REQUEST`, `METHOD_NOT_ALLOWED`,",
        "`NOT_ACCEPTABLE`, `UNSUPPORTED_MEDIA_TYPE`, `PAYLOAD_TOO_LARGE` (the HTTP layer,",
        "docs/security.md), `INTERNAL` (details masked; quote the request id). Each carries a",
        "Russian `message`.",
        "",
        "| code | message (ru) | when | what the client should do |",
        "|---|---|---|---|",
    ]
    for code, spec in CATALOGUE.items():
        cells = (f"`{code.value}`", spec.message, spec.when, spec.action)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
