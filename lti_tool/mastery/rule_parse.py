"""Rules from JSON and back: every refusal is a RuleError whose path points at the mistake.

The JSON shape (see `rule_schema.RULE_SCHEMA` and docs/mastery.md)::

    {"mode": "sticky" | "reevaluated", "rule": <condition> | null}

    <condition> is exactly one of
      {"all": [<condition>, ...]}            {"any": [<condition>, ...]}
      {"not": <condition>}                   {"at_least": {"k": 2, "of": [<condition>, ...]}}
      {"module_completed": "M2"}             {"module_mastered": "M2"}
      {"competency": "FRAC-3", "level": "Mastery"}  or  {"competency": "FRAC-3", "score": 2.5}
      {"line_item": "quiz-1", "percent": 80}        or  {"line_item": "quiz-1", "points": 8}
      {"on_or_after": "2025-03-01T00:00:00Z"}       {"group": "group-id"}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .catalog import Catalog
from .errors import RuleError
from .graph import find_cycle
from .numbers import as_float, is_number, show_number
from .rules import (
    KINDS,
    LEAF_KINDS,
    AllOf,
    AnyOf,
    AtLeastOf,
    CompetencyAtLeast,
    InGroup,
    LineItemAtLeast,
    ModuleCompleted,
    ModuleMastered,
    Not,
    OnOrAfter,
    Rule,
    Unlock,
    UnlockMode,
)

#: Deeper trees are refused: no teacher writes them, and they would only cost stack.
MAX_DEPTH = 32


def parse_unlock(
    doc: str | bytes | Mapping[str, Any] | None, catalog: Catalog, *, module: str | None = None
) -> Unlock:
    """Parse a module's unlock document; `module` (its own id) refuses a rule that needs itself."""
    if isinstance(doc, str | bytes | bytearray):
        try:
            doc = json.loads(doc)
        except (ValueError, RecursionError) as exc:
            raise RuleError("", f"not valid JSON ({exc})") from None
    if doc is None:
        return Unlock()
    if not isinstance(doc, Mapping):
        raise RuleError("", 'must be an object such as {"mode": "sticky", "rule": {...}}')
    extra = sorted(str(k) for k in doc if k not in ("mode", "rule"))
    if extra:
        raise RuleError(extra[0], 'unknown key; an unlock has only "mode" and "rule"')
    mode = doc.get("mode", UnlockMode.REEVALUATED.value)
    try:
        mode = UnlockMode(mode)
    except (ValueError, TypeError):
        raise RuleError("mode", f"{_show(mode)} is not one of reevaluated, sticky") from None
    raw = doc.get("rule")
    rule = None if raw is None else parse_rule(raw, catalog, module=module)
    return Unlock(rule=rule, mode=mode)


def parse_rule(
    data: object, catalog: Catalog, *, path: str = "rule", module: str | None = None
) -> Rule:
    """Parse one condition tree (already decoded from JSON)."""
    return _Parser(catalog, module).node(data, path, 1)


class _Parser:
    def __init__(self, catalog: Catalog, module: str | None) -> None:
        self.catalog = catalog
        self.module = module

    def node(self, data: object, path: str, depth: int) -> Rule:
        if depth > MAX_DEPTH:
            raise RuleError(path, f"conditions may nest at most {MAX_DEPTH} levels deep")
        if not isinstance(data, Mapping):
            raise RuleError(path, 'must be an object such as {"module_completed": "M1"}')
        keys = [str(k) for k in data]
        kinds = [k for k in KINDS if k in data]
        if not kinds:
            shown = ", ".join(_show(k) for k in keys) if keys else "nothing"
            raise RuleError(path, f"expected one of {', '.join(KINDS)}; got {shown}")
        if len(kinds) > 1:
            raise RuleError(
                path,
                f'has both "{kinds[0]}" and "{kinds[1]}": one condition per object '
                '(put several inside "all")',
            )
        kind = kinds[0]
        allowed = {kind, *LEAF_KINDS.get(kind, ())}
        for key in keys:
            if key not in allowed:
                raise RuleError(f"{path}.{key}", f'unknown key next to "{kind}"')
        value = data[kind]
        where = f"{path}.{kind}"
        if kind in ("all", "any"):
            conditions = self.many(value, where, depth)
            return AllOf(conditions) if kind == "all" else AnyOf(conditions)
        if kind == "not":
            return Not(self.node(value, where, depth + 1))
        if kind == "at_least":
            return self.at_least(value, where, depth)
        if kind in ("module_completed", "module_mastered"):
            ref = self.module_ref(value, where)
            return ModuleCompleted(ref) if kind == "module_completed" else ModuleMastered(ref)
        if kind == "competency":
            return self.competency(data, path)
        if kind == "line_item":
            return self.line_item(data, path)
        if kind == "on_or_after":
            return OnOrAfter(_date(value, where))
        return InGroup(self.group(value, where))

    def many(self, value: object, path: str, depth: int) -> tuple[Rule, ...]:
        if not isinstance(value, list):
            raise RuleError(path, "must be a list of conditions")
        if not value:
            raise RuleError(path, "needs at least one condition")
        return tuple(self.node(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))

    def at_least(self, value: object, path: str, depth: int) -> AtLeastOf:
        if not isinstance(value, Mapping):
            raise RuleError(path, 'must be an object such as {"k": 2, "of": [...]}')
        for key in value:
            if key not in ("k", "of"):
                raise RuleError(f"{path}.{key}", 'unknown key; at_least has "k" and "of"')
        if "of" not in value:
            raise RuleError(f"{path}.of", "missing: the list of conditions")
        if "k" not in value:
            raise RuleError(f"{path}.k", "missing: how many conditions must hold")
        conditions = self.many(value["of"], f"{path}.of", depth)
        k = value["k"]
        if isinstance(k, bool) or not isinstance(k, int):
            raise RuleError(f"{path}.k", f"must be a whole number, not {_show(k)}")
        if k < 1:
            raise RuleError(f"{path}.k", f"must be at least 1, not {show_number(k)}")
        if k > len(conditions):
            noun = "condition" if len(conditions) == 1 else "conditions"
            raise RuleError(
                f"{path}.k", f"{show_number(k)} is more than the {len(conditions)} {noun}"
            )
        return AtLeastOf(k, conditions)

    def module_ref(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise RuleError(path, f"must be a module id (a string), not {_show(value)}")
        if value not in self.catalog.modules:
            raise RuleError(path, f'no module with id "{value}"')
        if value == self.module:
            raise RuleError(path, f"a module cannot depend on itself ({value} → {value})")
        return value

    def competency(self, data: Mapping[str, Any], path: str) -> CompetencyAtLeast:
        code = data["competency"]
        if not isinstance(code, str):
            raise RuleError(f"{path}.competency", f"must be a competency code, not {_show(code)}")
        comp = self.catalog.competencies.get(code)
        if comp is None:
            raise RuleError(f"{path}.competency", f'no competency with code "{code}"')
        if ("level" in data) == ("score" in data):
            raise RuleError(
                path, 'give either "level" (a level name) or "score" (points), exactly one'
            )
        if "level" in data:
            level = data["level"]
            if not isinstance(level, str) or comp.scale.level_named(level) is None:
                names = ", ".join(lv.name for lv in comp.scale.levels)
                raise RuleError(
                    f"{path}.level", f"{_show(level)} is not a level of {comp.title} ({names})"
                )
            return CompetencyAtLeast(code, level=level)
        score = _number(data["score"], f"{path}.score", 0.0, comp.scale.top_points, "points")
        return CompetencyAtLeast(code, score=score)

    def line_item(self, data: Mapping[str, Any], path: str) -> LineItemAtLeast:
        ref = data["line_item"]
        if not isinstance(ref, str):
            raise RuleError(f"{path}.line_item", f"must be a line item id, not {_show(ref)}")
        item = self.catalog.line_items.get(ref)
        if item is None:
            raise RuleError(f"{path}.line_item", f'no line item with id "{ref}"')
        if ("percent" in data) == ("points" in data):
            raise RuleError(path, 'give either "percent" or "points", exactly one')
        if "percent" in data:
            return LineItemAtLeast(ref, percent=_number(data["percent"], f"{path}.percent", 0, 100))
        points = _number(data["points"], f"{path}.points", 0.0, item.max_points, "points")
        return LineItemAtLeast(ref, points=points)

    def group(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise RuleError(path, f"must be a group id (a string), not {_show(value)}")
        groups = self.catalog.groups
        if groups is not None and value not in groups:
            raise RuleError(path, f'no group with id "{value}"')
        return value


def _number(value: object, path: str, low: float, high: float, unit: str = "") -> float:
    if not is_number(value):
        raise RuleError(path, f"must be a number, not {_show(value)}")
    assert isinstance(value, int | float)  # for the type checker: is_number said so
    if value < low:
        raise RuleError(path, f"{show_number(value)} is below {low:g}")
    if value > high:
        what = f"the maximum ({high:g} {unit})" if unit else f"{high:g}"
        raise RuleError(path, f"{show_number(value)} is more than {what}")
    return as_float(value)


def _date(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise RuleError(
            path, f'must be a date-time such as "2025-03-01T00:00:00Z", not {_show(value)}'
        )
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise RuleError(path, f'"{value}" is not an ISO 8601 date-time') from None
    if when.tzinfo is None:
        raise RuleError(path, f'"{value}" needs a time zone, e.g. "2025-03-01T00:00:00Z"')
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise RuleError(path, f'"{value}" is out of range') from None


def _show(value: object) -> str:
    """A value as the teacher typed it, shortened so a message stays one line."""
    if isinstance(value, int) and not isinstance(value, bool):
        return show_number(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """The JSON form `parse_rule` reads back to an equal rule."""
    if isinstance(rule, AllOf):
        return {"all": [rule_to_json(c) for c in rule.conditions]}
    if isinstance(rule, AnyOf):
        return {"any": [rule_to_json(c) for c in rule.conditions]}
    if isinstance(rule, Not):
        return {"not": rule_to_json(rule.condition)}
    if isinstance(rule, AtLeastOf):
        return {"at_least": {"k": rule.k, "of": [rule_to_json(c) for c in rule.conditions]}}
    if isinstance(rule, ModuleCompleted):
        return {"module_completed": rule.module}
    if isinstance(rule, ModuleMastered):
        return {"module_mastered": rule.module}
    if isinstance(rule, CompetencyAtLeast):
        if rule.level is not None:
            return {"competency": rule.competency, "level": rule.level}
        return {"competency": rule.competency, "score": rule.score}
    if isinstance(rule, LineItemAtLeast):
        if rule.percent is not None:
            return {"line_item": rule.line_item, "percent": rule.percent}
        return {"line_item": rule.line_item, "points": rule.points}
    if isinstance(rule, OnOrAfter):
        return {"on_or_after": rule.when.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    return {"group": rule.group}


def unlock_to_json(unlock: Unlock) -> dict[str, Any]:
    return {
        "mode": unlock.mode.value,
        "rule": None if unlock.rule is None else rule_to_json(unlock.rule),
    }


def check_no_cycle(needs: Mapping[str, Sequence[str]]) -> None:
    cycle = find_cycle(needs)
    if cycle:
        raise RuleError("", "modules need each other in a circle: " + " → ".join(cycle))
