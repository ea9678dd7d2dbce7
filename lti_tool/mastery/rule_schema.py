"""The JSON Schema of an unlock document, for the rule builder UI and for API clients.

`rule_parse` is the authority (it also checks names against the course); this schema describes
the same shape so editors can validate and autocomplete before the server sees it.
"""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "minLength": 1}
_LIST = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}


def _one(key: str, value: dict[str, Any], **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: value, **extra},
        "required": [key],
        "additionalProperties": False,
    }


RULE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://lti-tool.invalid/schemas/unlock.json",
    "title": "Module unlock rule",
    "type": "object",
    "properties": {
        "mode": {"enum": ["reevaluated", "sticky"], "default": "reevaluated"},
        "rule": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/condition"}]},
    },
    "additionalProperties": False,
    "$defs": {
        "condition": {
            "oneOf": [
                _one("all", _LIST),
                _one("any", _LIST),
                _one("not", {"$ref": "#/$defs/condition"}),
                _one(
                    "at_least",
                    {
                        "type": "object",
                        "properties": {"k": {"type": "integer", "minimum": 1}, "of": _LIST},
                        "required": ["k", "of"],
                        "additionalProperties": False,
                    },
                ),
                _one("module_completed", _ID),
                _one("module_mastered", _ID),
                {
                    "oneOf": [
                        {**_one("competency", _ID, level=_ID), "required": ["competency", "level"]},
                        {
                            **_one("competency", _ID, score={"type": "number", "minimum": 0}),
                            "required": ["competency", "score"],
                        },
                    ]
                },
                {
                    "oneOf": [
                        {
                            **_one(
                                "line_item",
                                _ID,
                                percent={"type": "number", "minimum": 0, "maximum": 100},
                            ),
                            "required": ["line_item", "percent"],
                        },
                        {
                            **_one("line_item", _ID, points={"type": "number", "minimum": 0}),
                            "required": ["line_item", "points"],
                        },
                    ]
                },
                _one("on_or_after", {"type": "string", "format": "date-time"}),
                _one("group", _ID),
            ]
        }
    },
}
