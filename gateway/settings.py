"""Every ``LKK_*`` setting of the gateway, read once, typed and validated at start.

Nothing else in the project reads ``os.environ``: the composition root builds one
:class:`Settings` and hands the parts down. The defaults run the demo on one machine
(SQLite in ``./.lkk-data``, the emulators on their default ports).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".lkk-data")


class Environment(StrEnum):
    """Where the gateway runs; production turns off developer conveniences."""

    DEMO = "demo"
    DEVELOPMENT = "development"
    PRODUCTION = "production"


Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """The gateway's configuration, one field per ``LKK_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="LKK_", extra="ignore", frozen=True)

    environment: Environment = Environment.DEMO
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    public_url: str = ""
    """Base URL the clients reach the gateway by (receipt links, policy URL); derived if empty."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    """SQLAlchemy async URL; empty means SQLite in ``data_dir``."""
    redis_url: str = ""
    """Redis for shared cache, limits and fan-out; empty means in-process."""
    migrate_on_start: bool | None = None
    """Run Alembic migrations at start; by default only in demo and development."""

    graphiql: bool | None = None
    """Serve GraphiQL in a browser; by default on everywhere except production."""
    secret_key: SecretStr = SecretStr("demo-secret-key-change-me-in-production-0123456789")
    """Signs receipt URLs and other short-lived tokens; must be set in production."""
    log_level: str = "INFO"

    billing_url: str = "http://127.0.0.1:8101/billing"
    metering_url: str = "http://127.0.0.1:8102/api/v1"
    acquirer_url: str = "http://127.0.0.1:8103"
    acquirer_shop_id: str = "100500"
    acquirer_secret_key: SecretStr = SecretStr("test_shop_secret")
    acquirer_webhook_secret: SecretStr = SecretStr("test_webhook_secret")
    sms_url: str = "http://127.0.0.1:8104"
    sms_api_key: SecretStr = SecretStr("demo-sms-key")
    sms_sender: str = "LKK"
    smtp_host: str = "127.0.0.1"
    smtp_port: Port = 8025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_use_tls: bool = False
    mail_from: str = "ЛКК <noreply@lkk.example.ru>"

    upstream_timeout: Seconds = 5.0
    """Default total timeout of one upstream call, in seconds."""
    upstream_connect_timeout: Seconds = 2.0
    upstream_slow_ms: Seconds = 1000.0
    """An upstream answering a probe slower than this is reported DEGRADED."""
    breaker_failure_threshold: Annotated[int, Field(ge=1)] = 5
    breaker_reset_seconds: Seconds = 30.0

    utility_timezone: str = "Asia/Yekaterinburg"

    # Emulator ports: the demo and `lkk emulators` use them; tests pick free ones.
    emulator_host: str = "127.0.0.1"
    billing_port: Port = 8101
    metering_port: Port = 8102
    acquirer_port: Port = 8103
    sms_port: Port = 8104
    mail_http_port: Port = 8105

    @field_validator("utility_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)  # raises for an unknown zone, so a typo fails at start
        return value

    @property
    def is_production(self) -> bool:
        """Whether developer conveniences (GraphiQL, demo keys, migrations) are off."""
        return self.environment is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is on unless switched off, and off by default in production."""
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def should_migrate_on_start(self) -> bool:
        """Migrations run at start in demo and development unless switched off."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return not self.is_production

    @property
    def effective_database_url(self) -> str:
        """The store URL: the configured one, else SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.sqlite3').as_posix()}"

    @property
    def effective_public_url(self) -> str:
        """Base URL of the gateway as clients see it."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
