"""The schema served as an Apollo Federation 2 subgraph composes into a supergraph (issue 7).

Composition is Apollo's own library (`@apollo/composition`, pinned in
`tests/schema/federation/package.json`), run with Node: the same check an operator's
`rover supergraph compose` makes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from gateway.settings import Settings
from schema.schema import build_schema
from tests.support import skip_unless_ci

HERE = Path(__file__).resolve().parent / "federation"
BILLING_PORTAL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

type Query {
  portalNews: [String!]!
}
"""


def _node_modules() -> Path:
    modules = HERE / "node_modules"
    if not (modules / "@apollo" / "composition").exists():
        subprocess.run(
            ["npm", "ci", "--silent", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return modules


def test_the_subgraph_composes_with_another(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_unless_ci("Node.js and npm are not installed (apt-get install nodejs npm)")
    _node_modules()
    schema = build_schema(Settings(federation=True))
    result = schema.execute_sync("{ _service { sdl } }")
    assert result.errors is None, result.errors
    assert result.data is not None
    ours = tmp_path / "lkk.graphql"
    ours.write_text(result.data["_service"]["sdl"], encoding="utf-8")
    other = tmp_path / "portal.graphql"
    other.write_text(BILLING_PORTAL, encoding="utf-8")

    run = subprocess.run(
        ["node", str(HERE / "compose.js"), f"lkk={ours}", f"portal={other}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    verdict = json.loads(run.stdout)

    assert verdict["errors"] == []
    supergraph = verdict["supergraph"]
    assert "appInfo: AppInfo!" in supergraph
    assert "portalNews: [String!]!" in supergraph
    assert "submitReadings(" in supergraph


def test_the_plain_schema_has_no_federation_fields() -> None:
    schema = build_schema(Settings())

    assert "_service" not in schema.as_str()
