"""The inbox pages: every letter the sink received, newest first, and each letter, in Russian.

A demo aid (``lkk demo`` prints its address): customers' codes are read here. Plain HTML,
no scripts; the list reloads itself every few seconds. A letter's HTML body is shown in a
sandboxed frame, served by ``/mail/messages/{id}/html``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.base import UTILITY_TZ, CallLog
from emulators.data import RETAILER
from emulators.mail.store import Letter, MailStore

REFRESH_SECONDS = 5

_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;background:#eef1f5;margin:0;color:#1d2733}
main{max-width:900px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}.sub{color:#5b6673;font-size:13px;margin-bottom:16px}
form{margin:12px 0 16px}input{font-size:15px;padding:6px;border:1px solid #aab4bf}
button{font-size:15px;padding:6px 12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #cfd6df}
th,td{text-align:left;padding:8px 10px;border-top:1px solid #e3e7ec;font-size:14px;
vertical-align:top}th{background:#f6f8fa;font-weight:normal;color:#5b6673}
.empty{color:#5b6673;padding:24px 0}dl{background:#fff;border:1px solid #cfd6df;
padding:12px 16px;display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:#5b6673}dd{margin:0}h2{font-size:16px;margin:20px 0 8px}
pre{background:#fff;border:1px solid #cfd6df;padding:12px 16px;white-space:pre-wrap;
font-size:14px;margin:0}iframe{width:100%;height:480px;border:1px solid #cfd6df;
background:#fff}
"""


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTILITY_TZ):%d.%m.%Y %H:%M:%S}"


def _page(title: str, content: str, *, refresh: bool = False, status: int = 200) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return HTMLResponse(
        '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{content}</main></body></html>",
        status_code=status,
    )


def _row(letter: Letter) -> str:
    link = f"/mail/inbox/{escape(letter.id)}"
    subject = escape(letter.subject) or "(без темы)"
    return (
        f"<tr><td>{_when(letter.received_at)}</td><td>{escape(letter.header_from)}</td>"
        f"<td>{escape(', '.join(letter.recipients))}</td>"
        f'<td><a href="{link}">{subject}</a></td></tr>'
    )


def page_routes(store: MailStore, calls: CallLog) -> list[BaseRoute]:
    """The ``/mail/inbox`` pages."""

    async def inbox(request: Request) -> Response:
        calls.record("InboxPage")
        to = request.query_params.get("to", "").strip()
        letters = store.letters(to or None, limit=200)
        listing = (
            "<table><thead><tr><th>Получено</th><th>От кого</th><th>Кому</th><th>Тема</th>"
            f"</tr></thead><tbody>{''.join(_row(letter) for letter in letters)}</tbody></table>"
            if letters
            else '<p class="empty">Писем пока нет.</p>'
        )
        content = (
            "<h1>Входящие письма</h1>"
            f'<div class="sub">Эмулятор почтового сервера · {escape(RETAILER)} · '
            f"страница обновляется каждые {REFRESH_SECONDS} с</div>"
            '<form method="get" action="/mail/inbox"><label for="to">Адрес получателя</label> '
            f'<input id="to" name="to" value="{escape(to)}" placeholder="ivanov@example.ru"> '
            '<button type="submit">Показать</button> <a href="/mail/inbox">Все</a></form>'
            f"{listing}"
        )
        return _page("Входящие письма", content, refresh=True)

    async def letter_page(request: Request) -> Response:
        calls.record("LetterPage")
        letter = store.get(request.path_params["letter_id"])
        if letter is None:
            return _page(
                "Письмо не найдено",
                '<h1>Письмо не найдено</h1><p><a href="/mail/inbox">Ко входящим</a></p>',
                status=404,
            )
        base = f"/mail/messages/{escape(letter.id)}"
        sent = _when(letter.date) if letter.date is not None else "—"
        fields = [
            ("От кого", letter.header_from),
            ("Кому", letter.header_to),
            ("Тема", letter.subject or "(без темы)"),
            ("Дата письма", sent),
            ("Получено", _when(letter.received_at)),
            ("Message-ID", letter.message_id or "—"),
        ]
        header = "".join(f"<dt>{name}</dt><dd>{escape(value)}</dd>" for name, value in fields)
        text = (
            f"<h2>Текст письма</h2><pre>{escape(letter.text)}</pre>"
            if letter.text is not None
            else ""
        )
        html = (
            "<h2>HTML-версия</h2>"
            f'<iframe sandbox src="{base}/html" title="HTML-версия письма"></iframe>'
            f'<p><a href="{base}/html" target="_blank">Открыть отдельно</a></p>'
            if letter.html is not None
            else ""
        )
        content = (
            '<p><a href="/mail/inbox">← Ко входящим</a></p>'
            f"<h1>{escape(letter.subject) or '(без темы)'}</h1>"
            f"<dl>{header}</dl>{text}{html}"
            f'<p><a href="{base}/raw">Исходный текст письма</a></p>'
        )
        return _page(letter.subject or "Письмо", content)

    return [
        Route("/mail/inbox", inbox, methods=["GET"]),
        Route("/mail/inbox/{letter_id}", letter_page, methods=["GET"]),
    ]
