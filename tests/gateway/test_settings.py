"""Settings: defaults that run the demo, production safety, and a reference that cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Environment, Settings, reference_markdown

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_unset_upstreams_point_at_the_emulators_on_their_ports() -> None:
    settings = Settings(billing_port=9101, sms_port=9104)

    assert settings.billing_url == "http://127.0.0.1:9101/billing"
    assert settings.metering_url == "http://127.0.0.1:8102/api/v1"
    assert settings.sms_url == "http://127.0.0.1:9104"
    assert settings.smtp_host == "127.0.0.1"


def test_an_explicit_upstream_url_wins() -> None:
    settings = Settings(billing_url="https://billing.example.ru/ws")

    assert settings.billing_url == "https://billing.example.ru/ws"


def test_production_refuses_the_demo_secret() -> None:
    with pytest.raises(ValidationError, match="LKK_SECRET_KEY"):
        Settings(environment=Environment.PRODUCTION)


def test_production_turns_developer_conveniences_off() -> None:
    settings = Settings(environment=Environment.PRODUCTION, secret_key="s3cret-of-this-site")

    assert not settings.graphiql_enabled
    assert not settings.should_migrate_on_start


def test_an_unknown_time_zone_fails_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(utility_timezone="Asia/Tyumen-City")


def test_the_configuration_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), "run `make docs`"


def test_the_operations_guide_lists_every_setting_and_metric() -> None:
    from gateway.docs import OPERATIONS, fill

    text = OPERATIONS.read_text(encoding="utf-8")
    assert text == fill(text), "run `make docs`"
    assert "`LKK_METRICS_TOKEN`" in text
    assert "`lkk_outbox_dead_lettered_total`" in text
