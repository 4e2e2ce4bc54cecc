"""The printed receipt (единый платёжный документ) of a statement: an A4 PNG at 300 dpi.

Drawn with Pillow in DejaVu Sans (Debian's ``fonts-dejavu-core``), falling back to Pillow's
own font when it is missing. A receipt takes a noticeable fraction of a second to draw and
encode, so it is rendered off the event loop, once per account, period and content, and
kept in a small in-memory cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from emulators.data import RETAILER, Account, Statement, SupplierGroup, publication_time

WIDTH, HEIGHT = 2480, 3508
"""A4 at 300 dpi."""
DPI = 300
MARGIN = 160
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CACHE_SIZE = 32

MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
GROUP_NAMES = {
    SupplierGroup.HOUSING: "1. ЖКУ (единый платёж)",
    SupplierGroup.HOUSING_SEPARATE: "2. ЖКУ (отдельный платёж)",
    SupplierGroup.SOLID_WASTE: "3. Обращение с ТКО",
    SupplierGroup.CAPITAL_REPAIR: "4. Капитальный ремонт",
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans of ``size`` pixels, or Pillow's default font if DejaVu is missing."""
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def rubles(amount: Decimal) -> str:
    """``12 345,67`` — an amount as Russian documents print it."""
    sign = "−" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + "\u00a0".join(groups) + f",{cents}"


def _number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def _wrap(text: str, face: Font, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if face.getlength(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines or [""]


class _Sheet:
    """A page and a cursor moving down it."""

    def __init__(self) -> None:
        self.image = Image.new("L", (WIDTH, HEIGHT), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.y = MARGIN

    def text(self, x: float, value: str, size: int = 36, bold: bool = False) -> None:
        self.draw.text((x, self.y), value, font=font(size, bold), fill=0)

    def line(self, size: int = 36, gap: float = 1.5) -> None:
        self.y += int(size * gap)

    def rule(self, width: int = 3) -> None:
        self.draw.line((MARGIN, self.y, WIDTH - MARGIN, self.y), fill=0, width=width)
        self.y += 20

    def row(
        self,
        cells: Sequence[str],
        columns: Sequence[tuple[int, int, str]],
        size: int = 30,
        bold: bool = False,
    ) -> None:
        """One table row: cells wrapped within their columns ``(x, width, align)``."""
        face = font(size, bold)
        wrapped = [
            _wrap(cell, face, width - 16)
            for cell, (_, width, _) in zip(cells, columns, strict=True)
        ]
        height = max(len(lines) for lines in wrapped)
        for lines, (x, width, align) in zip(wrapped, columns, strict=True):
            for index, value in enumerate(lines):
                left = x + 8 if align == "left" else x + width - 8 - face.getlength(value)
                self.draw.text((left, self.y + index * size * 1.25), value, font=face, fill=0)
        self.y += int(height * size * 1.25) + 12
        self.draw.line((MARGIN, self.y - 6, WIDTH - MARGIN, self.y - 6), fill=160, width=1)


CHARGE_COLUMNS = (
    (MARGIN, 700, "left"),
    (MARGIN + 700, 620, "left"),
    (MARGIN + 1320, 220, "right"),
    (MARGIN + 1540, 120, "left"),
    (MARGIN + 1660, 230, "right"),
    (MARGIN + 1890, 270, "right"),
)
TOTAL_COLUMNS = (
    (MARGIN, 640, "left"),
    (MARGIN + 640, 300, "right"),
    (MARGIN + 940, 300, "right"),
    (MARGIN + 1240, 260, "right"),
    (MARGIN + 1500, 300, "right"),
    (MARGIN + 1800, 360, "right"),
)


def render_receipt(account: Account, statement: Statement) -> bytes:
    """The receipt of ``statement`` as PNG bytes (A4, 2480×3508 px, 300 dpi)."""
    sheet = _Sheet()
    period = statement.period
    sheet.text(MARGIN, "ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ", 64, bold=True)
    sheet.line(64)
    sheet.text(MARGIN, f"за {MONTHS[period.month - 1]} {period.year} г.", 44)
    sheet.line(44)
    sheet.text(MARGIN, f"Исполнитель: {RETAILER}", 36)
    sheet.line(36, 2.0)
    sheet.rule()
    for label, value in (
        ("Лицевой счёт", account.number),
        ("Плательщик", account.owner_name),
        ("Адрес", account.address),
        (
            "Площадь / проживает",
            f"{_number(account.area_m2)} м² / {account.residents} чел.",
        ),
    ):
        sheet.text(MARGIN, f"{label}:", 36, bold=True)
        sheet.text(MARGIN + 520, value, 36)
        sheet.line(36)
    sheet.line(36, 0.5)
    sheet.rule()

    sheet.text(MARGIN, "Начисления за период", 40, bold=True)
    sheet.line(40)
    sheet.row(
        ("Услуга", "Поставщик", "Объём", "Ед.", "Тариф, ₽", "Начислено, ₽"),
        CHARGE_COLUMNS,
        bold=True,
    )
    for charge in statement.charges:
        sheet.row(
            (
                charge.service,
                charge.supplier,
                _number(charge.volume),
                charge.unit or "",
                "—" if charge.tariff is None else rubles(charge.tariff),
                rubles(charge.amount),
            ),
            CHARGE_COLUMNS,
        )
    sheet.line(30, 0.6)

    sheet.text(MARGIN, "Расчёты по группам поставщиков", 40, bold=True)
    sheet.line(40)
    sheet.row(
        ("Группа", "Долг на начало", "Начислено", "Пени", "Оплачено", "К оплате"),
        TOTAL_COLUMNS,
        bold=True,
    )
    for group in SupplierGroup:
        totals = statement.groups[group]
        sheet.row(
            (
                GROUP_NAMES[group],
                rubles(totals.opening),
                rubles(totals.charged),
                rubles(totals.penalties),
                rubles(totals.paid),
                rubles(totals.closing),
            ),
            TOTAL_COLUMNS,
        )
    sheet.line(30, 0.8)

    closing = statement.closing_balance
    if closing > 0:
        sheet.text(MARGIN, f"ИТОГО К ОПЛАТЕ: {rubles(closing)} ₽", 56, bold=True)
        sheet.line(56)
        sheet.text(MARGIN, f"Оплатить до {statement.due_date:%d.%m.%Y}", 40)
    else:
        sheet.text(MARGIN, f"ПЕРЕПЛАТА: {rubles(-closing)} ₽", 56, bold=True)
        sheet.line(56)
        sheet.text(MARGIN, "Оплата не требуется", 40)
    sheet.line(40, 2.0)
    sheet.rule(2)
    published = publication_time(period).date()
    for note in (
        "Оплатить можно в личном кабинете клиента, в отделениях банков и почты.",
        "При оплате указывайте номер лицевого счёта. Пени начислены на просроченный долг.",
        f"Документ сформирован {published:%d.%m.%Y}.",
    ):
        sheet.text(MARGIN, note, 30)
        sheet.line(30)
    _payment_slip(sheet, account, statement)

    out = io.BytesIO()
    sheet.image.save(out, format="PNG", dpi=(DPI, DPI), optimize=False, compress_level=6)
    return out.getvalue()


def _payment_slip(sheet: _Sheet, account: Account, statement: Statement) -> None:
    """The tear-off slip at the foot of the page: what to pay per supplier group."""
    sheet.y = max(sheet.y + 60, HEIGHT - MARGIN - 760)
    for x in range(MARGIN, WIDTH - MARGIN, 40):
        sheet.draw.line((x, sheet.y, x + 20, sheet.y), fill=0, width=2)
    sheet.text(WIDTH - MARGIN - 260, "линия отреза", 24)
    sheet.line(24, 2.4)
    period = statement.period
    sheet.text(MARGIN, "КВИТАНЦИЯ", 48, bold=True)
    sheet.text(MARGIN + 420, f"{MONTHS[period.month - 1]} {period.year} г.", 40)
    sheet.line(48, 1.6)
    sheet.text(MARGIN, f"Получатель: {RETAILER}", 32)
    sheet.line(32)
    sheet.text(MARGIN, f"Лицевой счёт: {account.number}   Плательщик: {account.owner_name}", 32)
    sheet.line(32, 2.0)
    sheet.row(("Назначение платежа", "", "", "", "", "Сумма, ₽"), TOTAL_COLUMNS, bold=True)
    for group in SupplierGroup:
        closing = statement.groups[group].closing
        sheet.row(
            (
                GROUP_NAMES[group],
                "",
                "",
                "",
                "",
                rubles(closing) if closing > 0 else "0,00",
            ),
            TOTAL_COLUMNS,
        )
    sheet.line(30, 1.2)
    sheet.text(MARGIN, "Подпись плательщика: ____________________", 32)
    sheet.text(WIDTH - MARGIN - 700, "Дата: «____» __________ 20___ г.", 32)


def _fingerprint(account: Account, statement: Statement) -> str:
    return hashlib.sha256(repr((account, statement)).encode()).hexdigest()


class ReceiptCache:
    """Rendered receipts by account, period and content (LRU, single render per key)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._done: OrderedDict[tuple[str, date, str], bytes] = OrderedDict()
        self._lock = asyncio.Lock()
        self.renders = 0
        """Receipts drawn so far (tests check the cache with it)."""

    @property
    def cached(self) -> int:
        """Receipts held now."""
        return len(self._done)

    def clear(self) -> None:
        """Forget every rendered receipt and the count of renders."""
        self._done.clear()
        self.renders = 0

    async def get(self, account: Account, statement: Statement) -> bytes:
        """The PNG of ``statement``: from the cache, or drawn in a worker thread."""
        key = (account.number, statement.period, _fingerprint(account, statement))
        async with self._lock:  # one render at a time: a burst costs one render per key
            found = self._done.get(key)
            if found is not None:
                self._done.move_to_end(key)
                return found
            png = await asyncio.to_thread(render_receipt, account, statement)
            self.renders += 1
            self._done[key] = png
            while len(self._done) > self.size:
                self._done.popitem(last=False)
            return png
