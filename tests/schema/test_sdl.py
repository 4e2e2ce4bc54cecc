"""The checked-in ``schema.graphql`` is exactly what ``lkk export-schema`` prints."""

from __future__ import annotations

from pathlib import Path

from schema.schema import build_schema, fingerprint, sdl

CHECKED_IN = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_checked_in_schema_is_up_to_date() -> None:
    expected = sdl(build_schema())

    assert CHECKED_IN.read_text(encoding="utf-8") == expected, (
        "schema.graphql is stale: run `make schema` (lkk export-schema -o schema.graphql)"
    )


def test_every_type_and_field_of_the_schema_has_a_description() -> None:
    schema = build_schema()
    missing = []
    for type_ in schema._schema.type_map.values():
        if type_.name.startswith("__") or type_.name in {"String", "Boolean", "Int", "Float", "ID"}:
            continue
        if not type_.description:
            missing.append(type_.name)
        for name, field in getattr(type_, "fields", {}).items():
            if not field.description:
                missing.append(f"{type_.name}.{name}")

    assert missing == []


def test_schema_version_is_a_stable_fingerprint() -> None:
    assert fingerprint(build_schema()) == fingerprint(build_schema())
