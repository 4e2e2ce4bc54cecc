"""The deployment files (Dockerfile, deploy/compose.yaml, deploy/nginx.conf) say what
docs/scale-out.md says, and name only settings that exist: a typo in an ``LKK_*`` variable
would otherwise be ignored silently (pydantic-settings ignores unknown variables)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GATEWAYS = ("gateway-1", "gateway-2", "gateway-3")
OUTSIDE_SETTINGS = {"FORWARDED_ALLOW_IPS"}
"""Variables of the deployment read by uvicorn, not by the gateway."""


def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return found


def known(variable: str) -> bool:
    return variable in OUTSIDE_SETTINGS or (
        variable.startswith("LKK_") and variable[4:].lower() in Settings.model_fields
    )


def test_compose_runs_three_replicas_on_postgresql_and_redis_behind_a_balancer() -> None:
    services = compose()["services"]

    assert {"postgres", "redis", "migrate", "lb", *GATEWAYS} <= set(services)
    for name in GATEWAYS:
        environment = services[name]["environment"]
        assert environment["LKK_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["LKK_REDIS_URL"].startswith("redis://")
        assert environment["LKK_ENVIRONMENT"] == "production"
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["migrate"]["command"] == ["lkk", "migrate"]


def test_the_balancer_sends_requests_round_robin_to_every_replica() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream gateway \{(.*?)\}", conf, re.S)

    assert upstream is not None
    servers = re.findall(r"server ([\w-]+):8000", upstream.group(1))
    assert tuple(servers) == GATEWAYS
    assert "least_conn" not in upstream.group(1)
    assert "ip_hash" not in upstream.group(1)  # no stickiness: any replica serves anyone


def test_every_variable_of_the_deployment_is_a_setting() -> None:
    services = compose()["services"]
    named = {
        variable
        for service in services.values()
        for variable in (service.get("environment") or {})
        if variable.startswith(("LKK_", "FORWARDED_"))
    }
    dockerfile = (ROOT / "Dockerfile").read_text()
    named |= set(re.findall(r"\b(LKK_[A-Z_]+)=", dockerfile))

    assert named
    assert sorted(v for v in named if not known(v)) == []


def test_the_image_runs_as_a_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*?/healthz", dockerfile, re.M)
    assert re.search(r'^CMD \["lkk", "serve"\]', dockerfile, re.M)
