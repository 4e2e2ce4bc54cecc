"""What the customer receives: the texts of confirmation codes by SMS and e-mail (Russian)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Letter:
    """An e-mail: subject, plain text and HTML alternative."""

    subject: str
    text: str
    html: str


_PURPOSE_SMS = {
    "contact": "Код подтверждения для личного кабинета: {code}. Никому не сообщайте его.",
    "reset": "Код для восстановления пароля личного кабинета: {code}. Если вы не запрашивали "
    "код, проигнорируйте сообщение.",
}


def code_sms(purpose: str, code: str) -> str:
    """The SMS with a confirmation code (short: one or two segments)."""
    return _PURPOSE_SMS[purpose].format(code=code)


def code_letter(purpose: str, code: str, minutes: int) -> Letter:
    """The letter with a confirmation code."""
    if purpose == "reset":
        subject = "Восстановление пароля личного кабинета"
        lead = "Вы запросили восстановление пароля личного кабинета клиента."
        tail = (
            "Если вы не запрашивали восстановление, просто проигнорируйте это письмо: "
            "ваш пароль не изменится."
        )
    else:
        subject = "Подтверждение адреса электронной почты"
        lead = "Вы указали этот адрес в личном кабинете клиента. Подтвердите его кодом."
        tail = "Если вы не указывали этот адрес, просто проигнорируйте письмо."
    text = (
        f"Здравствуйте!\n\n{lead}\n\nКод подтверждения: {code}\n\n"
        f"Код действует {minutes} минут. Никому не сообщайте его, даже сотрудникам компании.\n\n"
        f"{tail}\n\n— Личный кабинет клиента\n"
    )
    html = (
        '<!doctype html><html lang="ru"><body style="font-family:Arial,sans-serif">'
        f"<p>Здравствуйте!</p><p>{escape(lead)}</p>"
        f'<p style="font-size:24px;letter-spacing:4px"><b>{escape(code)}</b></p>'
        f"<p>Код действует {minutes} минут. Никому не сообщайте его, даже сотрудникам "
        f"компании.</p><p>{escape(tail)}</p><p>— Личный кабинет клиента</p></body></html>"
    )
    return Letter(subject=subject, text=text, html=html)
