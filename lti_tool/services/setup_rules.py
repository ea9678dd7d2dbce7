"""The rule builder's form and the engine's rule JSON, both ways, so a teacher without
JavaScript can grow a rule tree one submit at a time and see each mistake where it is.

Builder nodes are named by path: "r" is the root, "r-0" its first child, "r-0-2" the third
child of that. Each node posts `<path>.kind` (what it is to become), `<path>.was` (what it was
drawn as, so a changed kind converts the node) and its own fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lti_tool.mastery.rules import LEAF_KINDS, NODE_KINDS

#: Every kind of the engine's vocabulary (`rules.KINDS`) by its builder label, in menu order.
KIND_LABELS = {
    "all": "All of these",
    "any": "Any of these",
    "at_least": "At least k of these",
    "not": "Not this",
    "module_completed": "Module completed",
    "module_mastered": "Module mastered",
    "competency": "Competency at least",
    "line_item": "Grade at least",
    "on_or_after": "On or after a date",
    "group": "In a group",
}
GROUPS = tuple(k for k in KIND_LABELS if k in NODE_KINDS)
LEAVES = tuple(k for k in KIND_LABELS if k in LEAF_KINDS)


@dataclass(frozen=True)
class Defaults:
    """What a new condition starts as, so a fresh draft is already a rule the engine accepts."""

    module: str = ""
    competency: str = ""
    level: str = "Mastery"
    line_item: str = ""
    when: str = ""


def kind_of(node: Mapping[str, Any] | None) -> str | None:
    if not isinstance(node, Mapping):
        return None
    for kind in (*GROUPS, *LEAVES):
        if kind in node:
            return kind
    return None


def children(node: Mapping[str, Any]) -> list[Any]:
    kind = kind_of(node)
    if kind in ("all", "any"):
        value = node[kind]
        return value if isinstance(value, list) else []
    if kind == "at_least":
        value = node["at_least"].get("of") if isinstance(node["at_least"], Mapping) else None
        return value if isinstance(value, list) else []
    if kind == "not":
        return [node["not"]] if node["not"] is not None else []
    return []


def new_node(kind: str, defaults: Defaults) -> dict[str, Any]:
    if kind in ("all", "any"):
        return {kind: [new_node("competency" if defaults.competency else "on_or_after", defaults)]}
    if kind == "at_least":
        first = new_node("competency" if defaults.competency else "on_or_after", defaults)
        return {"at_least": {"k": 1, "of": [first]}}
    if kind == "not":
        return {"not": new_node("module_completed" if defaults.module else "group", defaults)}
    if kind in ("module_completed", "module_mastered"):
        return {kind: defaults.module}
    if kind == "competency":
        return {"competency": defaults.competency, "level": defaults.level}
    if kind == "line_item":
        return {"line_item": defaults.line_item, "percent": 80}
    if kind == "on_or_after":
        return {"on_or_after": defaults.when}
    if kind == "group":
        return {"group": ""}
    raise ValueError(f"unknown kind {kind!r}")


def convert(node: dict[str, Any], kind: str, defaults: Defaults) -> dict[str, Any]:
    """A node turned into another kind, keeping what fits (a group keeps its conditions)."""
    old = kind_of(node)
    if old == kind or kind not in (*GROUPS, *LEAVES):
        return node
    kept = children(node) if old in GROUPS else [node]
    if kind in ("all", "any"):
        return {kind: kept or new_node(kind, defaults)[kind]}
    if kind == "at_least":
        kept = kept or new_node("at_least", defaults)["at_least"]["of"]
        return {"at_least": {"k": 1, "of": kept}}
    if kind == "not":
        return {"not": kept[0] if kept else new_node("not", defaults)["not"]}
    return new_node(kind, defaults)


def _number(text: str) -> Any:
    """A typed number, or the text itself so the engine can say what is wrong with it."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def local_to_iso(text: str) -> str:
    """A datetime-local value ("2025-03-01T08:30") read as UTC, as the label says."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text):
        return text + ":00Z"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text + "T00:00:00Z"
    return text


def iso_to_local(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M")


def from_form(form: Mapping[str, str], defaults: Defaults, path: str = "r") -> Any:
    """The node at `path` as rule JSON (kind changes applied), or None if the form has none."""
    was = form.get(f"{path}.was") or form.get(f"{path}.kind")
    if not was:
        return None
    f = lambda name: form.get(f"{path}.{name}", "")  # noqa: E731 - a field of this node
    node: dict[str, Any]
    if was in GROUPS:
        try:
            count = min(int(f("n") or 0), 200)
        except ValueError:
            count = 0
        kids = [from_form(form, defaults, f"{path}-{i}") for i in range(count)]
        kids = [k for k in kids if k is not None]
        if was == "not":
            node = {"not": kids[0] if kids else None}
        elif was == "at_least":
            node = {"at_least": {"k": _number(f("k") or "1"), "of": kids}}
        else:
            node = {was: kids}
    elif was in ("module_completed", "module_mastered"):
        node = {was: f("module")}
    elif was == "competency":
        if f("target") == "score":
            node = {"competency": f("competency"), "score": _number(f("score"))}
        else:
            node = {"competency": f("competency"), "level": f("level")}
    elif was == "line_item":
        measure = "points" if f("measure") == "points" else "percent"
        node = {"line_item": f("line_item"), measure: _number(f("amount"))}
    elif was == "on_or_after":
        node = {"on_or_after": local_to_iso(f("when"))}
    elif was == "group":
        node = {"group": f("group").strip()}
    else:
        return None
    kind = form.get(f"{path}.kind") or was
    return convert(node, kind, defaults) if kind != was else node


def _indices(path: str) -> list[int]:
    return [int(p) for p in path.split("-")[1:]]


def _container(rule: dict[str, Any], path: str) -> tuple[list[Any], int] | None:
    """The list holding the node at `path` and its index there (None for the root)."""
    idx = _indices(path)
    if not idx:
        return None
    node: Any = rule
    for i in idx[:-1]:
        kids = children(node)
        if i >= len(kids):
            return None
        node = kids[i]
    kind = kind_of(node)
    if kind in ("all", "any"):
        return node[kind], idx[-1]
    if kind == "at_least":
        return node["at_least"]["of"], idx[-1]
    if kind == "not":
        return None  # a "not" holds one condition: it is replaced, never removed
    return None


def node_at(rule: Any, path: str) -> Any:
    node = rule
    for i in _indices(path):
        kids = children(node) if isinstance(node, Mapping) else []
        if i >= len(kids):
            return None
        node = kids[i]
    return node


def apply_op(rule: Any, op: str, form: Mapping[str, str], defaults: Defaults) -> Any:
    """One structural edit from a builder button: add:<path>, remove:<path>, start."""
    action, _, path = op.partition(":")
    if action == "start":
        return new_node(form.get("r.add") or "competency", defaults)
    if action == "add":
        kind = form.get(f"{path}.add") or "competency"
        if kind not in (*GROUPS, *LEAVES):
            return rule
        target = node_at(rule, path)
        if kind_of(target) in ("all", "any", "at_least"):
            children(target).append(new_node(kind, defaults))
            return rule
        if path == "r" and rule is not None:
            return {"all": [rule, new_node(kind, defaults)]}
        return rule
    if action == "remove":
        if path == "r":
            return None
        found = _container(rule, path)
        if found is not None:
            holder, i = found
            if i < len(holder):
                holder.pop(i)
        return rule
    return rule


_STEP = re.compile(r"\.(?:(?:all|any)\[(\d+)\]|at_least\.of\[(\d+)\]|(not)(?=\.|$))")


def locate(engine_path: str) -> tuple[str | None, str]:
    """An engine error path ("rule.all[2].competency") as (builder node, field), or
    (None, path) when the mistake is about the document rather than one condition."""
    if not engine_path.startswith("rule"):
        return None, engine_path
    rest, node = engine_path[4:], "r"
    while rest:
        m = _STEP.match(rest)
        if m is None:
            break
        index = m.group(1) or m.group(2) or "0"
        node, rest = f"{node}-{index}", rest[m.end() :]
    return node, rest.lstrip(".")


def paths(rule: Any, path: str = "r") -> list[str]:
    """Every node path of a draft, parents first."""
    if not isinstance(rule, Mapping):
        return []
    out = [path]
    for i, kid in enumerate(children(rule)):
        out.extend(paths(kid, f"{path}-{i}"))
    return out


def chain_rules(
    order: list[str], choices: Mapping[str, list[str]], can_master: set[str]
) -> dict[str, dict[str, Any] | None]:
    """ "Each module unlocks when the previous one is mastered": modules in order, a choice's
    options sharing their choice's rule; a module that cannot be mastered (no competencies)
    is asked to be finished instead."""
    options = {o for opts in choices.values() for o in opts}
    steps = [m for m in order if m not in options]
    out: dict[str, dict[str, Any] | None] = {}
    previous: str | None = None
    for m in steps:
        if previous is None:
            rule = None
        else:
            kind = "module_mastered" if previous in can_master else "module_completed"
            rule = {kind: previous}
        out[m] = {"mode": "reevaluated", "rule": rule}
        for option in choices.get(m, []):
            out[option] = {"mode": "reevaluated", "rule": rule}
        previous = m
    return out
