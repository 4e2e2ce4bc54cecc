"""Breaking changes to schema.graphql must be announced in their commit (issue 7)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gateway.cli import main
from schema.compat import MARKER, breaking_changes, check_history, is_repository

ROOT = Path(__file__).resolve().parents[2]
OLD = "type Query { me: String  account(number: String!): Int }\n"


def test_removing_or_retyping_a_field_is_breaking_and_adding_is_not() -> None:
    removed = breaking_changes(OLD, "type Query { account(number: String!): Int }\n")
    retyped = breaking_changes(OLD, "type Query { me: Int  account(number: String!): Int }\n")
    added = breaking_changes(
        OLD, "type Query { me: String  account(number: String!, x: Int): Int  new: Int }\n"
    )

    assert removed == ["FIELD_REMOVED: Field Query.me was removed."]
    assert len(retyped) == 1
    assert retyped[0].startswith("FIELD_CHANGED_KIND")
    assert added == []


def _commit(repo: Path, text: str, message: str) -> None:
    (repo / "schema.graphql").write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    subprocess.run(["git", "-C", str(repo), "add", "schema.graphql"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", message], check=True, env=env)


def test_an_unannounced_break_fails_and_an_announced_one_passes(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _commit(tmp_path, OLD, "first schema")
    _commit(tmp_path, OLD.replace("me: String", "me: String  extra: Int"), "add a field")
    clean = check_history(tmp_path)
    _commit(tmp_path, OLD.replace("me: String  ", ""), "drop me")
    unannounced = check_history(tmp_path)
    _commit(
        tmp_path,
        OLD.replace("me: String  ", "").replace("Int }", "String }"),
        f"retype account {MARKER}: the app 4.0 reads it as text",
    )
    announced = check_history(tmp_path)

    assert clean == []
    assert [v.subject for v in unannounced] == ["drop me"]
    assert [v.subject for v in announced] == ["drop me"]
    assert main(["schema-check", "--repo", str(tmp_path)]) == 1


@pytest.mark.skipif(not is_repository(ROOT), reason="not a git checkout: no history to check")
def test_this_repository_never_broke_the_schema_unannounced() -> None:
    assert check_history(ROOT) == []
