"""Metering's published contract: an OpenAPI 3.0 description of ``/api/v1``, written by
hand as the old system's documentation would be, quirks included (``dd.mm.yyyy`` dates,
decimal-comma strings, zone codes, Russian enums). Served at ``GET /api/v1/openapi.json``
for tools that build clients from it (GraphQL Mesh, Hive Gateway)."""

from __future__ import annotations

from typing import Any

DATE_PATTERN = r"^\d{2}\.\d{2}\.\d{4}$"
VALUE_PATTERN = r"^\d{1,9},\d$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str, description: str | None = None) -> dict[str, Any]:
    """A reference that may be null (OpenAPI 3.0 ignores siblings of ``$ref``)."""
    schema: dict[str, Any] = {"nullable": True, "allOf": [_ref(name)]}
    if description is not None:
        schema["description"] = description
    return schema


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


_ZONES_OBJECT = {
    "type": "object",
    "description": "Keyed by zone code; every zone of the meter, no other.",
    "additionalProperties": False,
    "minProperties": 1,
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "АИС «Учёт показаний» — REST API",
        "version": "3.4.17",
        "description": (
            "Meters and readings of the retailer's customers. Legacy conventions: dates are "
            "strings `dd.mm.yyyy`, periods `mm.yyyy`, times `dd.mm.yyyy HH:MM:SS` in local "
            "time (Asia/Yekaterinburg) without an offset; meter values are strings with a "
            'decimal comma and one fractional digit (`"12345,6"`); tariff zones are `T1`, '
            "`T2`, `T3` (two zones: T1 day, T2 night; three zones: T1 peak, T2 night, T3 "
            "semi-peak); statuses and sources are Russian words. Every error has the shape "
            "`Error`. Nightly maintenance answers 503 `MAINTENANCE` with `Retry-After`; the "
            "front proxy may also answer 502/503 with an HTML page, and the servlet "
            "container 500 with an HTML error report."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "tags": [
        {"name": "meters", "description": "Meters of a personal account"},
        {"name": "readings", "description": "Reading history and submission"},
        {"name": "system", "description": "Service state"},
    ],
    "paths": {
        "/status": {
            "get": {
                "operationId": "getStatus",
                "tags": ["system"],
                "summary": "Service state (for health probes)",
                "responses": {
                    "200": _json("Status", "The service answers"),
                    "503": _response("Maintenance"),
                },
            }
        },
        "/accounts/{number}/meters": {
            "get": {
                "operationId": "listMeters",
                "tags": ["meters"],
                "summary": "Meters of a personal account, with the last reading of each zone",
                "parameters": [{"$ref": "#/components/parameters/AccountNumber"}],
                "responses": {
                    "200": _json("MeterList", "The account's meters (possibly none)"),
                    "404": _response("NotFound"),
                    "503": _response("Maintenance"),
                },
            }
        },
        "/meters": {
            "get": {
                "operationId": "listMetersBulk",
                "tags": ["meters"],
                "summary": "Meters of several personal accounts at once (at most 50)",
                "description": "Accounts metering does not know are left out of the answer.",
                "parameters": [
                    {
                        "name": "account",
                        "in": "query",
                        "required": True,
                        "style": "form",
                        "explode": True,
                        "description": "A personal account number; repeat for each account",
                        "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
                    }
                ],
                "responses": {
                    "200": _json("MeterListBulk", "The meters of each known account"),
                    "400": _response("BadRequest"),
                    "503": _response("Maintenance"),
                },
            }
        },
        "/meters/{meterId}/readings": {
            "get": {
                "operationId": "listReadings",
                "tags": ["readings"],
                "summary": "Reading history of a meter, newest first, paged",
                "description": (
                    "Items are ordered by date (newest first), then zone; a submission "
                    "replaced by a later one of the same period stays in the history with "
                    "status `Заменено`. `limit` above 100 is cut to 100 without an error; "
                    "the answer's `limit` is the one applied."
                ),
                "parameters": [
                    {"$ref": "#/components/parameters/MeterId"},
                    {
                        "name": "from",
                        "in": "query",
                        "description": "First date, inclusive (`dd.mm.yyyy`)",
                        "schema": _ref("Date"),
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "description": "Last date, inclusive (`dd.mm.yyyy`)",
                        "schema": _ref("Date"),
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 20},
                    },
                ],
                "responses": {
                    "200": _json("ReadingsPage", "One page of readings"),
                    "400": _response("BadRequest"),
                    "404": _response("NotFound"),
                    "503": _response("Maintenance"),
                },
            },
            "post": {
                "operationId": "submitReadings",
                "tags": ["readings"],
                "summary": "Submit one value per zone (idempotent by request_id)",
                "description": (
                    "The submission belongs to the period (month) of its date, today when "
                    "absent. A later submission of the same period replaces the earlier one, "
                    "unless a control reading or the dismantling locked the period (409). "
                    "Repeating a `request_id` with the same body returns the first answer, "
                    "status included; with another body it is refused with 422 "
                    "`REQUEST_ID_REUSED`."
                ),
                "parameters": [{"$ref": "#/components/parameters/MeterId"}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SubmitRequest")}},
                },
                "responses": {
                    "201": _json("Submission", "Accepted (or the first answer, repeated)"),
                    "400": _response("BadRequest"),
                    "404": _response("NotFound"),
                    "409": _json("Error", "The period is locked (`PERIOD_LOCKED`)"),
                    "422": _json(
                        "Error",
                        "Refused: `METER_CLOSED`, `INVALID_DATE`, `DATE_IN_FUTURE`, "
                        "`PERIOD_CLOSED`, `WRONG_ZONES`, `INVALID_VALUE`, "
                        "`VALUE_OVER_CAPACITY`, `VALUE_BELOW_PREVIOUS`, `REQUEST_ID_REUSED`",
                    ),
                    "503": _response("Maintenance"),
                },
            },
        },
    },
    "components": {
        "parameters": {
            "AccountNumber": {
                "name": "number",
                "in": "path",
                "required": True,
                "description": "Personal account number (ЛС), 10 digits",
                "schema": {"type": "string", "example": "7200000001"},
            },
            "MeterId": {
                "name": "meterId",
                "in": "path",
                "required": True,
                "description": "Meter id (the number `Meter.id`)",
                "schema": {"type": "string", "example": "100001"},
            },
        },
        "responses": {
            "BadRequest": _json(
                "Error", "Malformed request (`INVALID_REQUEST`, `INVALID_PARAMETER`)"
            ),
            "NotFound": _json("Error", "Unknown account or meter"),
            "Maintenance": {
                "description": "Nightly maintenance (`MAINTENANCE`)",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds until the window ends",
                        "schema": {"type": "integer"},
                    }
                },
                "content": {"application/json": {"schema": _ref("Error")}},
            },
        },
        "schemas": {
            "Date": {
                "type": "string",
                "pattern": DATE_PATTERN,
                "description": "`dd.mm.yyyy`",
                "example": "22.10.2026",
            },
            "Value": {
                "type": "string",
                "pattern": VALUE_PATTERN,
                "description": "Meter value, decimal comma, one fractional digit",
                "example": "46402,3",
            },
            "Zone": {
                "type": "string",
                "enum": ["T1", "T2", "T3"],
                "description": "Tariff zone code; its meaning depends on the meter's zone count",
            },
            "MeterStatus": {"type": "string", "enum": ["Действует", "Закрыт"]},
            "ReadingSource": {
                "type": "string",
                "enum": ["Абонент", "Контрольное снятие", "Демонтаж"],
            },
            "ReadingStatus": {"type": "string", "enum": ["Принято", "Заменено"]},
            "LastReading": {
                "type": "object",
                "required": ["value", "date"],
                "properties": {"value": _ref("Value"), "date": _ref("Date")},
            },
            "Meter": {
                "type": "object",
                "required": [
                    "id",
                    "serial",
                    "model",
                    "zones",
                    "digits",
                    "status",
                    "installed",
                    "closed",
                    "verification_due",
                    "last_readings",
                ],
                "properties": {
                    "id": {"type": "integer", "example": 100001},
                    "serial": {"type": "string", "example": "00872311"},
                    "model": {"type": "string", "example": "Меркурий 200.02"},
                    "zones": {
                        "type": "array",
                        "items": _ref("Zone"),
                        "minItems": 1,
                        "maxItems": 3,
                        "description": "`[T1]`, `[T1, T2]` or `[T1, T2, T3]`",
                    },
                    "digits": {
                        "type": "integer",
                        "description": "Digits before the comma; the meter rolls over after",
                        "example": 6,
                    },
                    "status": _ref("MeterStatus"),
                    "installed": _ref("Date"),
                    "closed": _nullable("Date"),
                    "verification_due": _ref("Date"),
                    "last_readings": {
                        **_ZONES_OBJECT,
                        "description": "Last accepted reading of each zone (zones without "
                        "one are left out)",
                        "minProperties": 0,
                        "properties": {
                            "T1": _ref("LastReading"),
                            "T2": _ref("LastReading"),
                            "T3": _ref("LastReading"),
                        },
                    },
                },
            },
            "MeterListBulk": {
                "type": "object",
                "required": ["accounts"],
                "properties": {"accounts": {"type": "array", "items": _ref("MeterList")}},
            },
            "MeterList": {
                "type": "object",
                "required": ["account", "meters"],
                "properties": {
                    "account": {"type": "string"},
                    "meters": {"type": "array", "items": _ref("Meter")},
                },
            },
            "Reading": {
                "type": "object",
                "required": ["date", "zone", "value", "source", "status"],
                "properties": {
                    "date": _ref("Date"),
                    "zone": _ref("Zone"),
                    "value": _ref("Value"),
                    "source": _ref("ReadingSource"),
                    "status": _ref("ReadingStatus"),
                },
            },
            "ReadingsPage": {
                "type": "object",
                "required": ["meter_id", "zones", "total", "offset", "limit", "items"],
                "properties": {
                    "meter_id": {"type": "integer"},
                    "zones": {"type": "array", "items": _ref("Zone")},
                    "total": {"type": "integer", "description": "Readings matching the dates"},
                    "offset": {"type": "integer"},
                    "limit": {"type": "integer", "description": "The limit applied (≤ 100)"},
                    "items": {"type": "array", "items": _ref("Reading")},
                },
            },
            "SubmitRequest": {
                "type": "object",
                "required": ["request_id", "values"],
                "properties": {
                    "request_id": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 64,
                        "description": "Idempotency key chosen by the client",
                    },
                    "date": _nullable("Date"),
                    "values": {
                        **_ZONES_OBJECT,
                        "properties": {
                            "T1": _ref("Value"),
                            "T2": _ref("Value"),
                            "T3": _ref("Value"),
                        },
                    },
                },
            },
            "SubmittedZone": {
                "type": "object",
                "required": ["zone", "value", "previous", "previous_date", "consumption"],
                "properties": {
                    "zone": _ref("Zone"),
                    "value": _ref("Value"),
                    "previous": _nullable("Value"),
                    "previous_date": _nullable("Date"),
                    "consumption": _nullable(
                        "Value",
                        "kWh since the previous period's reading "
                        "(across a roll-over of the digit capacity)",
                    ),
                },
            },
            "Submission": {
                "type": "object",
                "required": [
                    "result",
                    "request_id",
                    "meter_id",
                    "date",
                    "period",
                    "status",
                    "replaced",
                    "registered_at",
                    "readings",
                ],
                "properties": {
                    "result": {"type": "string", "enum": ["ok"]},
                    "request_id": {"type": "string"},
                    "meter_id": {"type": "integer"},
                    "date": _ref("Date"),
                    "period": {"type": "string", "pattern": r"^\d{2}\.\d{4}$"},
                    "status": _ref("ReadingStatus"),
                    "replaced": {
                        "type": "boolean",
                        "description": "An earlier submission of the period was replaced",
                    },
                    "registered_at": {
                        "type": "string",
                        "description": "`dd.mm.yyyy HH:MM:SS`, local time, no offset",
                        "example": "03.11.2026 10:15:42",
                    },
                    "readings": {"type": "array", "items": _ref("SubmittedZone")},
                },
            },
            "Status": {
                "type": "object",
                "required": ["status", "system", "version", "time"],
                "properties": {
                    "status": {"type": "string", "enum": ["OK"]},
                    "system": {"type": "string"},
                    "version": {"type": "string"},
                    "time": {"type": "string", "description": "`dd.mm.yyyy HH:MM:SS`, local"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["result", "code", "message"],
                "properties": {
                    "result": {"type": "string", "enum": ["error"]},
                    "code": {
                        "type": "string",
                        "enum": [
                            "INVALID_REQUEST",
                            "INVALID_PARAMETER",
                            "ACCOUNT_NOT_FOUND",
                            "METER_NOT_FOUND",
                            "METER_CLOSED",
                            "INVALID_DATE",
                            "DATE_IN_FUTURE",
                            "PERIOD_LOCKED",
                            "PERIOD_CLOSED",
                            "WRONG_ZONES",
                            "INVALID_VALUE",
                            "VALUE_OVER_CAPACITY",
                            "VALUE_BELOW_PREVIOUS",
                            "REQUEST_ID_REUSED",
                            "MAINTENANCE",
                        ],
                    },
                    "message": {"type": "string", "description": "For the customer, Russian"},
                    "zone": {
                        "allOf": [_ref("Zone")],
                        "description": "The zone a value error is about",
                    },
                    "parameter": {"type": "string", "description": "The bad query parameter"},
                    "period": {"type": "string", "pattern": r"^\d{2}\.\d{4}$"},
                    "locked_by": _ref("ReadingSource"),
                    "locked_on": _ref("Date"),
                },
            },
        },
    },
}
"""The OpenAPI document served at ``/api/v1/openapi.json``."""
