"""Configuration of the emulators, built by the composition root (CLI, tests) from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SYSTEMS = ("billing", "metering", "acquirer", "sms", "mail")
"""The legacy systems, in the order the demo lists them."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Where the emulators listen, where they keep state, and the secrets they share with
    the gateway. ``data_dir=None`` keeps every state in memory (tests)."""

    host: str = "127.0.0.1"
    billing_port: int = 8101
    metering_port: int = 8102
    acquirer_port: int = 8103
    sms_port: int = 8104
    mail_http_port: int = 8105
    smtp_port: int = 8025
    data_dir: Path | None = None
    faults: dict[str, str] = field(default_factory=dict)
    """Initial fault spec per system name, e.g. ``{"metering": "outage=1"}``."""

    # Billing
    booking_delay_seconds: float = 5.0
    """How long after PostPayment a payment shows in GetPayments."""

    # Metering
    maintenance_window: str = "02:00-02:10"
    """Nightly maintenance (utility local time) when metering answers 503; empty: none."""

    # Acquirer
    acquirer_shop_id: str = "100500"
    acquirer_secret_key: str = "test_shop_secret"
    webhook_url: str = "http://127.0.0.1:8000/webhooks/acquirer"
    webhook_secret: str = "test_webhook_secret"

    # SMS
    sms_api_key: str = "demo-sms-key"

    def url(self, port: int, path: str = "") -> str:
        """An emulator's base URL."""
        return f"http://{self.host}:{port}{path}"

    @property
    def billing_url(self) -> str:
        """SOAP endpoint of billing (WSDL at ``?wsdl``)."""
        return self.url(self.billing_port, "/billing")

    @property
    def metering_url(self) -> str:
        """Base of metering's REST API."""
        return self.url(self.metering_port, "/api/v1")

    @property
    def acquirer_url(self) -> str:
        """Base of the acquirer's API (``/v3/...``) and pages."""
        return self.url(self.acquirer_port)

    @property
    def sms_url(self) -> str:
        """Base of the SMS gateway."""
        return self.url(self.sms_port)

    @property
    def mail_url(self) -> str:
        """Base of the mail inbox pages."""
        return self.url(self.mail_http_port)

    def state_path(self, system: str) -> Path | None:
        """The SQLite file of one emulator, or None for memory."""
        return None if self.data_dir is None else self.data_dir / "emulators" / f"{system}.sqlite3"
