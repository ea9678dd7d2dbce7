"""The JSON Schema of an unlock document, for the rule builder UI and for API clients.

`rule_parse` is the authority (it also checks names against the course); this schema describes
the same shape, built from the same vocabulary (`rules.KINDS`), so editors can validate and
autocomplete before the server sees it.
"""

from __future__ import annotations

from typing import Any

from .rules import KINDS, LEAF_KINDS, UnlockMode

_ID = {"type": "string", "minLength": 1}
_LIST = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}
_CONDITION = {"$ref": "#/$defs/condition"}

#: What each kind of the vocabulary (`rules.KINDS`) holds, and each key taken beside a leaf.
_VALUES: dict[str, dict[str, Any]] = {
    "all": _LIST,
    "any": _LIST,
    "not": _CONDITION,
    "at_least": {
        "type": "object",
        "properties": {"k": {"type": "integer", "minimum": 1}, "of": _LIST},
        "required": ["k", "of"],
        "additionalProperties": False,
    },
    "module_completed": _ID,
    "module_mastered": _ID,
    "competency": _ID,
    "line_item": _ID,
    "on_or_after": {"type": "string", "format": "date-time"},
    "group": _ID,
}
_BESIDE: dict[str, dict[str, Any]] = {
    "level": _ID,
    "score": {"type": "number", "minimum": 0},
    "percent": {"type": "number", "minimum": 0, "maximum": 100},
    "points": {"type": "number", "minimum": 0},
}


def _one(key: str, value: dict[str, Any], **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: value, **extra},
        "required": [key, *extra],
        "additionalProperties": False,
    }


def _kind(kind: str) -> dict[str, Any]:
    beside = LEAF_KINDS.get(kind, ())
    if not beside:
        return _one(kind, _VALUES[kind])
    return {"oneOf": [_one(kind, _VALUES[kind], **{key: _BESIDE[key]}) for key in beside]}


RULE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://lti-tool.invalid/schemas/unlock.json",
    "title": "Module unlock rule",
    "type": "object",
    "properties": {
        "mode": {"enum": [m.value for m in UnlockMode], "default": UnlockMode.REEVALUATED.value},
        "rule": {"oneOf": [{"type": "null"}, _CONDITION]},
    },
    "additionalProperties": False,
    "$defs": {"condition": {"oneOf": [_kind(kind) for kind in KINDS]}},
}
