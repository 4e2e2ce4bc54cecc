"""Every error code is catalogued with a Russian message, and docs/errors.md is current."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.errors import CATALOGUE, ErrorCode, catalogue_markdown
from schema.schema import build_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def test_every_code_has_a_russian_message_a_when_and_an_action() -> None:
    assert set(CATALOGUE) == set(ErrorCode)
    for code, spec in CATALOGUE.items():
        assert CYRILLIC.search(spec.message), code
        assert spec.when, code
        assert spec.action, code


def test_the_error_catalogue_document_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), "run `make docs`"


def test_every_mutation_lists_only_catalogued_codes() -> None:
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    for name, field in mutation.fields.items():
        listed = re.findall(r"\b[A-Z][A-Z_]{3,}\b", (field.description or "").split("codes:")[-1])
        if "codes:" in (field.description or ""):
            assert listed, name
            assert set(listed) <= {c.value for c in ErrorCode}, name
