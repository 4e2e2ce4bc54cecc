"""Validation results remembered per parsed document (schema/documents.py)."""

from __future__ import annotations

from graphql import parse, specified_rules

from gateway.settings import Settings
from schema.documents import ValidatedDocuments
from schema.schema import build_schema


def test_an_invalid_query_is_refused_every_time_and_a_valid_one_passes() -> None:
    schema = build_schema(Settings())
    for _ in range(3):
        bad = schema.execute_sync("{ noSuchField }")
        good = schema.execute_sync("{ __typename }")
        assert bad.errors is not None
        assert "noSuchField" in bad.errors[0].message
        assert good.errors is None, good.errors


def test_a_result_is_reused_only_for_the_same_document_object() -> None:
    schema = build_schema(Settings())._schema
    documents = ValidatedDocuments(maxsize=1)
    valid, invalid = parse("{ __typename }"), parse("{ nope }")

    first = documents.errors(schema, valid, specified_rules)
    assert documents.errors(schema, valid, specified_rules) is first  # the same object: remembered
    assert documents.errors(schema, invalid, specified_rules)  # another document: validated itself
    assert documents.errors(schema, parse("{ __typename }"), specified_rules) == []
