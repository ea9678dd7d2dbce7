"""The course's scale, picked from presets: one row per preset, set on every competency, and the
levels that rules and goals name moved to the new scale's words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.mastery import DEFAULT_LEVELS, Goal, Scale
from lti_tool.services.course_model import levels_of
from lti_tool.services.setup_course import competencies, modules
from lti_tool.services.setup_tx import SetupRefused, refusing

#: Scales a teacher picks from in one click (name, levels high to low; exactly one mastery).
SCALE_PRESETS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "canvas": ("Canvas' default: Exceeds Mastery to No Evidence", DEFAULT_LEVELS),
    "ladder": (
        "A ladder students know: Mastered, Proficient, Familiar, Attempted",
        [
            {"name": "Mastered", "points": 4, "color": "#0374B5", "mastery": False},
            {"name": "Proficient", "points": 3, "color": "#0B874B", "mastery": True},
            {"name": "Familiar", "points": 2, "color": "#FAB901", "mastery": False},
            {"name": "Attempted", "points": 1, "color": "#D97900", "mastery": False},
            {"name": "Not started", "points": 0, "color": "#E0061F", "mastery": False},
        ],
    ),
    "three": (
        "Three steps: Secure, Developing, Not yet",
        [
            {"name": "Secure", "points": 2, "color": "#0B874B", "mastery": True},
            {"name": "Developing", "points": 1, "color": "#FAB901", "mastery": False},
            {"name": "Not yet", "points": 0, "color": "#E0061F", "mastery": False},
        ],
    ),
}


def use_scale_preset(session: Session, context_id: int, key: str) -> Scale | None:
    """The course's row for a preset (made once), set on every competency; None: Canvas'
    default, which needs no row."""
    name, levels = SCALE_PRESETS[key]
    if key == "canvas":
        row = None
    else:
        row = session.scalar(
            select(Scale).where(Scale.context_id == context_id, Scale.name == name)
        )
        if row is None:
            row = Scale(context_id=context_id, name=name, levels=[dict(lv) for lv in levels])
            session.add(row)
            session.flush()
    new_levels = list(row.levels) if row is not None else list(DEFAULT_LEVELS)
    renames: dict[str, dict[str, str]] = {}
    for comp in competencies(session, context_id):
        renames[comp.code] = level_mapping(levels_of(session, comp), new_levels)
        if comp.scale_id != (row.id if row is not None else None):
            # Its gradebook column gets the new top at the next post (ensure_column updates a
            # column whose stored label differs); the evidence is re-read on the new scale.
            comp.passback_label = None
        comp.scale_id = row.id if row is not None else None
    # Rules and goals name levels: they follow to the new scale's words.
    for module in modules(session, context_id):
        if module.unlock_rule:
            module.unlock_rule = _relevel(module.unlock_rule, renames)
    by_id = {c.id: c.code for c in competencies(session, context_id)}
    for goal in session.scalars(
        select(Goal).where(Goal.context_id == context_id, Goal.level.is_not(None))
    ):
        code = by_id.get(goal.competency_id or 0)
        if code is not None and goal.level is not None:
            goal.level = renames.get(code, {}).get(goal.level, goal.level)
    return row


def level_mapping(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, str]:
    """Each old level's counterpart: mastery to mastery, else the nearest points."""
    out = {}
    new_mastery = next((lv for lv in new if lv.get("mastery")), new[0])
    for lv in old:
        if lv.get("mastery"):
            out[lv["name"]] = new_mastery["name"]
        else:
            nearest = min(new, key=lambda n: abs(float(n["points"]) - float(lv["points"])))
            out[lv["name"]] = nearest["name"]
    return out


def _relevel(node: Any, renames: dict[str, dict[str, str]]) -> Any:
    if isinstance(node, list):
        return [_relevel(n, renames) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _relevel(v, renames) for k, v in node.items()}
    if "competency" in out and isinstance(out.get("level"), str):
        out["level"] = renames.get(out["competency"], {}).get(out["level"], out["level"])
    return out


def preset_scale_id(session: Session, context_id: int, key: str) -> int | None:
    """The row id a preset has in this course (None for Canvas' default, or not made yet)."""
    if key == "canvas":
        return None
    name = SCALE_PRESETS[key][0]
    return (
        session.scalar(select(Scale.id).where(Scale.context_id == context_id, Scale.name == name))
        or -1
    )


def set_course_scale(session: Session, context_id: int, by: int, key: str) -> str:
    """Every competency on one preset; the preset's name."""
    if key not in SCALE_PRESETS:
        raise SetupRefused("scale", "Pick one of the scales.")
    with refusing(session, context_id, by, "course scale changed", field="scale"):
        use_scale_preset(session, context_id, key)
    return SCALE_PRESETS[key][0]
