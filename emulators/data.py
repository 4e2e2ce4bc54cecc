"""The deterministic demo data the emulators serve (DESIGN.md, "Demo data").

Everything is derived from the accounts below and one date, the utility's "today", so that
every run shows the same customers with history up to last month: 25 closed billing
periods, monthly meter readings, payments, and debts now. Numbers come from a PRNG seeded
by the account and the period, never from the wall clock, so tests can rely on them.

Billing stores names upper-case with Е for Ё, as the old system does; the readings drive
the electricity lines of the statements, so the two systems agree with each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import IntEnum
from zoneinfo import ZoneInfo

UTILITY_TZ = ZoneInfo("Asia/Yekaterinburg")
CENT = Decimal("0.01")
HISTORY_MONTHS = 25
"""Closed periods generated before the current month (24 or 25 are published, CHG-2)."""
RETAILER = "АО «Газпром энергосбыт Тюмень»"


def money(value: Decimal | float | int) -> Decimal:
    """Round to kopecks, half up, as billing does."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class SupplierGroup(IntEnum):
    """Billing's supplier groups 1–4 (PAY-2)."""

    HOUSING = 1
    """ЖКУ with split payment: the retailer and the other resource suppliers."""
    HOUSING_SEPARATE = 2
    """ЖКУ of suppliers that take only a separate payment."""
    SOLID_WASTE = 3
    """The regional solid waste operator (ТКО)."""
    CAPITAL_REPAIR = 4
    """Capital repair fund (капремонт)."""


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def publication_time(period: date) -> datetime:
    """When the statement of ``period`` appears: the 10th of the next month, local midnight
    (CHG-2)."""
    following = add_months(period, 1)
    return datetime.combine(following.replace(day=10), time(), tzinfo=UTILITY_TZ)


@dataclass(frozen=True)
class Account:
    """A personal account (ЛС) as billing keeps it."""

    number: str
    owner_name: str
    address: str
    status: str
    opened: date
    area_m2: Decimal
    residents: int


@dataclass(frozen=True)
class Meter:
    """A meter (ПУ) as metering keeps it; zones are metering's codes T1/T2/T3."""

    id: str
    account: str
    serial: str
    model: str
    zones: tuple[str, ...]
    digits: int
    status: str
    installed: date
    closed: date | None
    verification_due: date
    monthly_use: tuple[int, ...]
    """Typical kWh per month per zone (drives generated readings)."""


@dataclass(frozen=True)
class Reading:
    """One accepted reading of one zone."""

    meter_id: str
    zone: str
    value: Decimal
    taken_on: date
    source: str


@dataclass(frozen=True)
class ChargeLine:
    """One service charged in a period."""

    service: str
    supplier: str
    group: SupplierGroup
    tariff: Decimal | None
    volume: Decimal | None
    unit: str | None
    amount: Decimal


@dataclass(frozen=True)
class GroupTotals:
    """A statement's figures for one supplier group."""

    opening: Decimal
    charged: Decimal
    penalties: Decimal
    paid: Decimal

    @property
    def closing(self) -> Decimal:
        """Opening + charges + penalties − payments."""
        return self.opening + self.charged + self.penalties - self.paid


@dataclass(frozen=True)
class Statement:
    """A billing period of an account (CHG-1). Positive balances are debt, negative ones
    overpayment."""

    account: str
    period: date
    charges: tuple[ChargeLine, ...]
    groups: dict[SupplierGroup, GroupTotals]
    due_date: date

    @property
    def opening_balance(self) -> Decimal:
        return sum((g.opening for g in self.groups.values()), Decimal("0.00"))

    @property
    def penalties(self) -> Decimal:
        return sum((g.penalties for g in self.groups.values()), Decimal("0.00"))

    @property
    def paid(self) -> Decimal:
        return sum((g.paid for g in self.groups.values()), Decimal("0.00"))

    @property
    def closing_balance(self) -> Decimal:
        return sum((g.closing for g in self.groups.values()), Decimal("0.00"))


@dataclass(frozen=True)
class Payment:
    """A payment billing has booked."""

    external_id: str
    account: str
    group: SupplierGroup
    amount: Decimal
    paid_at: datetime
    booked_at: datetime
    acquirer_ref: str
    channel: str


@dataclass(frozen=True)
class Balance:
    """What an account owes in one supplier group now."""

    account: str
    group: SupplierGroup
    debt: Decimal
    penalties: Decimal


@dataclass
class DemoData:
    """All the demo data, as of ``today``."""

    today: date
    accounts: list[Account] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)


ACCOUNTS = (
    Account(
        "7200000001",
        "ИВАНОВА МАРИЯ ПЕТРОВНА",
        "625003, Тюменская обл., г. Тюмень, ул. Республики, д. 14, кв. 27",
        "Открыт",
        date(2015, 3, 1),
        Decimal("54.30"),
        3,
    ),
    Account(
        "7200000002",
        "ПЕТРОВ АЛЕКСЕЙ ИВАНОВИЧ",
        "628400, Ханты-Мансийский АО, г. Сургут, пр. Ленина, д. 43, кв. 105",
        "Открыт",
        date(2018, 9, 1),
        Decimal("38.00"),
        1,
    ),
    Account(
        "7200000003",
        "СЕМИНА ОЛЬГА",
        "625026, Тюменская обл., г. Тюмень, ул. Мельникайте, д. 100, кв. 12",
        "Открыт",
        date(2012, 6, 1),
        Decimal("71.80"),
        4,
    ),
    Account(
        "7200000004",
        "ИВАНОВА МАРИЯ ПЕТРОВНА",
        "625504, Тюменская обл., Тюменский р-н, п. Боровский, ул. Островского, д. 3",
        "Открыт",
        date(2020, 5, 1),
        Decimal("96.00"),
        2,
    ),
)


def _meters(today: date) -> list[Meter]:
    closed_on = add_months(today, -8).replace(day=18)
    return [
        Meter(
            "100001",
            "7200000001",
            "34012587",
            "Меркурий 200.02",
            ("T1", "T2"),
            6,
            "Действует",
            date(2019, 4, 12),
            None,
            date(2035, 4, 12),
            (190, 95),
        ),
        Meter(
            "100002",
            "7200000001",
            "11230456",
            "Нева 101 1S0",
            ("T1",),
            5,
            "Действует",
            date(2021, 7, 5),
            None,
            date(2037, 7, 5),
            (60,),
        ),
        Meter(
            "100003",
            "7200000001",
            "00872311",
            "СО-505",
            ("T1",),
            5,
            "Закрыт",
            date(2004, 2, 10),
            closed_on,
            date(2020, 2, 10),
            (55,),
        ),
        Meter(
            "100004",
            "7200000002",
            "20975310",
            "Энергомера CE101",
            ("T1",),
            5,
            "Действует",
            date(2009, 11, 20),
            None,
            date(2027, 11, 20),
            (170,),
        ),
        Meter(
            "100005",
            "7200000003",
            "41187723",
            "Меркурий 231 AT-01",
            ("T1", "T2", "T3"),
            6,
            "Действует",
            date(2020, 1, 15),
            None,
            date(2036, 1, 15),
            (120, 160, 110),
        ),
        Meter(
            "100006",
            "7200000004",
            "39001244",
            "Нева 103 1SO",
            ("T1",),
            6,
            "Действует",
            date(2020, 5, 1),
            None,
            date(2036, 5, 1),
            (240,),
        ),
    ]


_START_VALUES = {
    "100001": (Decimal("41210.4"), Decimal("18904.2")),
    "100002": (Decimal("6120.0"),),
    "100003": (Decimal("71012.5"),),
    "100004": (Decimal("95620.0"),),  # rolls over its 5 digits during the history
    "100005": (Decimal("23110.7"), Decimal("30880.1"), Decimal("15008.3")),
    "100006": (Decimal("8800.0"),),
}

ELECTRICITY_TARIFFS = {
    ("T1",): {"T1": Decimal("4.05")},
    ("T1", "T2"): {"T1": Decimal("4.60"), "T2": Decimal("2.60")},
    ("T1", "T2", "T3"): {"T1": Decimal("5.10"), "T2": Decimal("2.60"), "T3": Decimal("4.05")},
}
ZONE_NAMES = {
    # Russian convention: two zones T1 day, T2 night; three zones T1 peak, T2 night,
    # T3 semi-peak.
    ("T1", "T2"): {"T1": "день", "T2": "ночь"},
    ("T1", "T2", "T3"): {"T1": "пик", "T2": "ночь", "T3": "полупик"},
}


def _readings(meter: Meter, today: date) -> list[Reading]:
    """Monthly readings from the start of the history to last month (20th–24th), the
    first of them a control reading, the last of a closed meter its dismantling."""
    rng = random.Random(f"readings-{meter.id}")
    first = add_months(today, -HISTORY_MONTHS - 1)
    values = list(_START_VALUES[meter.id])
    capacity = Decimal(10) ** meter.digits
    readings: list[Reading] = []
    for index in range(HISTORY_MONTHS + 1):
        month = add_months(first, index)
        taken_on = month.replace(day=20 + rng.randint(0, 4))
        source = "Контрольное снятие" if index == 0 else "Абонент"
        if meter.closed is not None and month == meter.closed.replace(day=1):
            source, taken_on = "Демонтаж", meter.closed
        for zone_index, zone in enumerate(meter.zones):
            if index > 0:
                season = 1.35 if month.month in (11, 12, 1, 2) else 1.0
                use = meter.monthly_use[zone_index] * season * rng.uniform(0.8, 1.2)
                values[zone_index] = (values[zone_index] + Decimal(str(round(use, 1)))) % capacity
            readings.append(Reading(meter.id, zone, values[zone_index], taken_on, source))
        if source == "Демонтаж":
            break
    return readings


def consumption(previous: Decimal, current: Decimal, digits: int) -> Decimal:
    """kWh between two readings, across a roll-over of the meter's digit capacity."""
    used = current - previous
    return used if used >= 0 else used + Decimal(10) ** digits


@dataclass(frozen=True)
class _Service:
    name: str
    supplier: str
    group: SupplierGroup
    unit: str
    tariff: Decimal
    basis: str
    """What the volume is: "area" (м²), "residents" (чел.), or "norm" (per resident)."""
    norm: Decimal = Decimal("1")


_SERVICES = (
    _Service(
        "Холодное водоснабжение",
        "ООО «Тюмень Водоканал»",
        SupplierGroup.HOUSING,
        "м³",
        Decimal("41.32"),
        "norm",
        Decimal("3.5"),
    ),
    _Service(
        "Водоотведение",
        "ООО «Тюмень Водоканал»",
        SupplierGroup.HOUSING,
        "м³",
        Decimal("33.75"),
        "norm",
        Decimal("6.2"),
    ),
    _Service(
        "Отопление",
        "АО «УТСК»",
        SupplierGroup.HOUSING,
        "Гкал",
        Decimal("2318.54"),
        "area",
        Decimal("0.0163"),
    ),
    _Service(
        "Газоснабжение",
        "ООО «Газпром межрегионгаз Север»",
        SupplierGroup.HOUSING_SEPARATE,
        "м³",
        Decimal("7.84"),
        "norm",
        Decimal("10.5"),
    ),
    _Service(
        "Содержание жилого помещения",
        "ООО «УК Восток»",
        SupplierGroup.HOUSING_SEPARATE,
        "м²",
        Decimal("28.90"),
        "area",
    ),
    _Service(
        "Обращение с ТКО",
        "ООО «ТЭО»",
        SupplierGroup.SOLID_WASTE,
        "чел.",
        Decimal("156.07"),
        "residents",
    ),
    _Service(
        "Взнос на капитальный ремонт",
        "НО «Фонд капитального ремонта МКД Тюменской области»",
        SupplierGroup.CAPITAL_REPAIR,
        "м²",
        Decimal("11.91"),
        "area",
    ),
)

_PAY_HABITS: dict[str, tuple[Decimal, Decimal] | None] = {
    # share of the opening debt paid each month, and the share paid in the last closed
    # month (so that some debt is left now); None: pays ahead, rounding up to whole
    # thousands of roubles, and so keeps an overpayment
    "7200000001": (Decimal("1.00"), Decimal("0.50")),
    "7200000002": (Decimal("1.00"), Decimal("1.00")),
    "7200000003": None,
    "7200000004": (Decimal("0.95"), Decimal("0.90")),
}


def _payment_due(
    habit: tuple[Decimal, Decimal] | None, opening: Decimal, charged: Decimal, last: bool
) -> Decimal:
    if habit is None:
        owed = opening + charged
        return (
            money((owed / 1000).to_integral_value(rounding=ROUND_CEILING) * 1000)
            if owed > 0
            else money(0)
        )
    return money(max(opening, money(0)) * (habit[1] if last else habit[0]))


_CHANNELS = ("ПАО Сбербанк", "Почта России", "АО «Тинькофф Банк»", "ЛКК")


def _service_lines(account: Account, period: date, rng: random.Random) -> list[ChargeLine]:
    heating_season = period.month in (1, 2, 3, 4, 5, 10, 11, 12)
    lines = []
    for service in _SERVICES:
        if service.name == "Отопление" and not heating_season:
            continue
        if service.basis == "area":
            volume = account.area_m2 * service.norm
        elif service.basis == "residents":
            volume = Decimal(account.residents)
        else:
            volume = Decimal(account.residents) * service.norm * Decimal(str(rng.uniform(0.9, 1.1)))
        volume = volume.quantize(Decimal("0.001"))
        lines.append(
            ChargeLine(
                service.name,
                service.supplier,
                service.group,
                service.tariff,
                volume,
                service.unit,
                money(volume * service.tariff),
            )
        )
    return lines


def _electricity_lines(
    meters: list[Meter], readings: list[Reading], period: date
) -> list[ChargeLine]:
    lines = []
    for meter in meters:
        own = [r for r in readings if r.meter_id == meter.id]
        for zone in meter.zones:
            current = [
                r
                for r in own
                if r.zone == zone
                and (r.taken_on.year, r.taken_on.month) == (period.year, period.month)
            ]
            earlier = [r for r in own if r.zone == zone and r.taken_on < period]
            if not current or not earlier:
                continue
            used = consumption(earlier[-1].value, current[0].value, meter.digits)
            tariff = ELECTRICITY_TARIFFS[meter.zones][zone]
            label = (
                "Электроснабжение"
                if len(meter.zones) == 1
                else f"Электроснабжение ({ZONE_NAMES[meter.zones][zone]})"
            )
            lines.append(
                ChargeLine(
                    f"{label}, ПУ № {meter.serial}",
                    RETAILER,
                    SupplierGroup.HOUSING,
                    tariff,
                    used,
                    "кВт·ч",
                    money(used * tariff),
                )
            )
    return lines


def build(today: date) -> DemoData:
    """The whole demo data set as of the utility's local date ``today``."""
    data = DemoData(today=today, accounts=list(ACCOUNTS), meters=_meters(today))
    for meter in data.meters:
        data.readings.extend(_readings(meter, today))
    first_period = add_months(today, -HISTORY_MONTHS)
    for account in ACCOUNTS:
        own_meters = [m for m in data.meters if m.account == account.number]
        habit = _PAY_HABITS[account.number]
        balances = {g: money(0) for g in SupplierGroup}
        penalties_due = {g: money(0) for g in SupplierGroup}
        for index in range(HISTORY_MONTHS):
            period = add_months(first_period, index)
            rng = random.Random(f"statement-{account.number}-{period.isoformat()}")
            lines = _service_lines(account, period, rng) + _electricity_lines(
                own_meters, data.readings, period
            )
            groups: dict[SupplierGroup, GroupTotals] = {}
            for group in SupplierGroup:
                opening = balances[group]
                charged = sum((line.amount for line in lines if line.group == group), money(0))
                last = index == HISTORY_MONTHS - 1
                paid = _payment_due(habit, opening, charged, last) if index > 0 else money(0)
                if paid > 0:
                    paid_on = period.replace(day=12 + rng.randint(0, 8))
                    paid_at = datetime.combine(
                        paid_on, time(10 + rng.randint(0, 9), rng.randint(0, 59)), UTILITY_TZ
                    )
                    data.payments.append(
                        Payment(
                            external_id=f"B{account.number[-4:]}{period:%Y%m}{group.value}",
                            account=account.number,
                            group=group,
                            amount=paid,
                            paid_at=paid_at,
                            booked_at=paid_at + timedelta(hours=rng.randint(1, 30)),
                            acquirer_ref=f"{rng.getrandbits(48):012x}",
                            channel=rng.choice(_CHANNELS),
                        )
                    )
                overdue = opening - paid
                penalty = money(overdue * Decimal("0.0125")) if overdue > 100 else money(0)
                totals = GroupTotals(opening, charged, penalty, paid)
                groups[group] = totals
                balances[group] = totals.closing
                penalties_due[group] = penalty
            data.statements.append(
                Statement(
                    account=account.number,
                    period=period,
                    charges=tuple(lines),
                    groups=groups,
                    due_date=add_months(period, 1).replace(day=25),
                )
            )
        for group in SupplierGroup:
            outstanding = penalties_due[group] if balances[group] > 0 else money(0)
            data.balances.append(
                Balance(account.number, group, balances[group] - outstanding, outstanding)
            )
    return data
