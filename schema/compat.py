"""Schema compatibility: a change that breaks clients must be said so in its commit.

``schema.graphql`` is the contract with the apps. Every commit that changed it is compared
with its parent by graphql-core's ``find_breaking_changes`` (removed or retyped fields,
arguments made required, enum values removed, …). A breaking change passes only when the
commit message carries :data:`MARKER` and says why; otherwise ``lkk schema-check`` — run by
``make test`` through ``tests/schema/test_compat.py`` — fails. Additions (new types, fields,
optional arguments) and deprecations are never breaking.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import build_schema
from graphql.utilities import find_breaking_changes

MARKER = "[schema-break]"
SCHEMA_FILE = "schema.graphql"


@dataclass(frozen=True)
class Violation:
    """A commit that broke the schema without saying so."""

    commit: str
    subject: str
    changes: tuple[str, ...]


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    """What in ``new_sdl`` breaks a client written against ``old_sdl``."""
    changes = find_breaking_changes(build_schema(old_sdl), build_schema(new_sdl))
    return [f"{change.type.name}: {change.description}" for change in changes]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def is_repository(repo: Path) -> bool:
    """Whether ``repo`` is a git work tree with history to check."""
    try:
        return _git(repo, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except (OSError, subprocess.CalledProcessError):
        return False


def check_history(repo: Path, *, limit: int = 200) -> list[Violation]:
    """Every commit (newest ``limit``) that changed the schema in a breaking way unsaid."""
    log = _git(repo, "log", f"-n{limit}", "--format=%H%x1f%P%x1f%B%x1e", "--", SCHEMA_FILE)
    violations: list[Violation] = []
    for record in filter(None, (r.strip() for r in log.split("\x1e"))):
        commit, parents, message = record.split("\x1f", 2)
        parent = parents.split()[0] if parents.split() else ""
        if not parent or MARKER in message:
            continue
        try:
            old = _git(repo, "show", f"{parent}:{SCHEMA_FILE}")
        except subprocess.CalledProcessError:
            continue  # the schema file was born in this commit
        new = _git(repo, "show", f"{commit}:{SCHEMA_FILE}")
        changes = breaking_changes(old, new)
        if changes:
            subject = message.strip().splitlines()[0] if message.strip() else ""
            violations.append(Violation(commit[:12], subject, tuple(changes)))
    return violations
