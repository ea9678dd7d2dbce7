"""Course setup use-cases: the engine's view of a draft, method forms and their live example,
and the reference checks that keep a teacher's edit from breaking another module's rule.

Every change is checked the same way the loop will read it (`load_model`): if the engine
refuses the course, the caller rolls the request back and shows the engine's message.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import mastery as engine
from lti_tool.mastery.methods import METHODS
from lti_tool.mastery.scales import round_score
from lti_tool.models.mastery import (
    DEFAULT_LEVELS,
    DEFAULT_METHOD,
    Alignment,
    Competency,
    CourseLineItem,
    Goal,
    Scale,
)
from lti_tool.models.modules import Module
from lti_tool.services import parent_evidence
from lti_tool.services.course_model import (  # noqa: F401 - default_scale: the pages' too
    default_scale,
    engine_scale,
    levels_of,
    load_model,
    scale_of,
)
from lti_tool.services.recompute import Recomputed, recompute_course
from lti_tool.services.setup_rules import Defaults

METHOD_HELP = {
    "latest": "The most recent score: what the student can do now.",
    "highest": "The best score ever shown.",
    "average": "The plain mean of every score.",
    "mode": "The most common score; a tie goes to the higher score.",
    "weighted_average": "w × the latest score + (1 − w) × the mean of all earlier scores.",
    "decaying_average": "Each new score counts w and everything before it 1 − w: recent work "
    "counts most, old work never vanishes.",
    "n_times": "Mastery shown n times: scores below Mastery are dropped; with fewer than n left "
    "there is no score yet, else their mean.",
    "power_law": "Fits a learning curve through every attempt and reports where it is now "
    "(the average while there are fewer than 3 scores).",
    "bkt": "Bayesian Knowledge Tracing: the chance the skill is learned, updated after each "
    "attempt; it can reach Mastery but never Exceeds.",
}
METHOD_NAMES = {
    "latest": "Latest score",
    "highest": "Highest score",
    "average": "Average",
    "mode": "Most common score",
    "weighted_average": "Weighted average",
    "decaying_average": "Decaying average",
    "n_times": "n times at Mastery",
    "power_law": "Power law",
    "bkt": "Knowledge tracing (BKT)",
}


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    default: float | int | None
    low: float
    high: float
    step: str
    whole: bool = False
    optional: bool = False


PARAMS: dict[str, tuple[Param, ...]] = {
    "weighted_average": (Param("w", "Weight of the latest score (w)", 0.65, 0.01, 0.99, "0.01"),),
    "decaying_average": (Param("w", "Weight of each new score (w)", 0.65, 0.5, 0.99, "0.01"),),
    "n_times": (Param("n", "Times at Mastery needed (n)", 3, 1, 10, "1", whole=True),),
    "bkt": (
        Param("p_init", "Chance it is known at the start", 0.3, 0, 1, "0.01"),
        Param("p_transit", "Chance of learning at each attempt", 0.1, 0, 1, "0.01"),
        Param("p_guess", "Chance of a lucky correct answer", 0.2, 0, 0.5, "0.01"),
        Param("p_slip", "Chance of a careless wrong answer", 0.1, 0, 0.5, "0.01"),
        Param("mastered_at", "Learned when the chance reaches", 0.95, 0, 1, "0.01"),
        Param(
            "correct_at",
            "Correct from this score (blank: Mastery)",
            None,
            0,
            1e9,
            "any",
            optional=True,
        ),
    ),
}
SAMPLE = (1.0, 2.0, 3.0, 4.0)


def competencies(session: Session, context_id: int) -> list[Competency]:
    return list(
        session.scalars(
            select(Competency)
            .where(Competency.context_id == context_id)
            .order_by(Competency.position, Competency.id)
        )
    )


def modules(session: Session, context_id: int) -> list[Module]:
    return list(
        session.scalars(
            select(Module)
            .where(Module.context_id == context_id)
            .order_by(Module.position, Module.id)
        )
    )


def line_items(session: Session, context_id: int) -> list[CourseLineItem]:
    return list(
        session.scalars(
            select(CourseLineItem)
            .where(CourseLineItem.context_id == context_id, CourseLineItem.gone_at.is_(None))
            .order_by(CourseLineItem.label, CourseLineItem.id)
        )
    )


def scales(session: Session, context_id: int) -> list[Scale]:
    return list(session.scalars(select(Scale).where(Scale.context_id == context_id)))


def check(session: Session, context_id: int, module_id: int | None = None) -> str | None:
    """The engine's refusal of the course as it now stands in this transaction, or None.

    A rule's path is shown relative to the module being edited, as the builder names it.
    """
    session.flush()
    try:
        load_model(session, context_id)
    except engine.RuleError as exc:
        prefix = f"modules[{str(module_id)!r}]."
        if module_id is not None and exc.path.startswith(prefix):
            return f"{exc.path[len(prefix) :]}: {exc.message}"
        return _named(session, str(exc))
    except engine.MasteryError as exc:
        return _named(session, str(exc))
    return parent_evidence.column_problem(session, context_id)


def _named(session: Session, message: str) -> str:
    """Engine messages name modules by row id; teachers know them by title."""
    import re

    def title(match: re.Match[str]) -> str:
        row = session.get(Module, int(match.group(1)))
        return f'"{row.title}"' if row is not None else match.group(0)

    return re.sub(r"modules\['(\d+)'\]", lambda m: "module " + title(m), message)


def catalog(
    session: Session,
    context_id: int,
    *,
    without_competency: int | None = None,
    without_module: int | None = None,
) -> engine.Catalog:
    """The names rules may use, built leniently (a broken method never hides the builder)."""
    comps = []
    for c in competencies(session, context_id):
        if c.id == without_competency:
            continue
        comps.append(
            engine.Competency(code=c.code, title=c.title or c.code, scale=scale_of(session, c))
        )
    mods = [
        engine.Module(str(m.id), m.title or f"Module {m.id}")
        for m in modules(session, context_id)
        if m.id != without_module
    ]
    items = [
        engine.LineItem(str(li.id), li.label or li.url, li.score_maximum or 100.0)
        for li in line_items(session, context_id)
    ]
    return engine.Catalog.of(comps, mods, items)


def builder_defaults(session: Session, context_id: int, module_id: int | None) -> Defaults:
    comps = competencies(session, context_id)
    others = [m for m in modules(session, context_id) if m.id != module_id]
    items = line_items(session, context_id)
    level = scale_of(session, comps[0]).mastery_level.name if comps else "Mastery"
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    return Defaults(
        module=str(others[0].id) if others else "",
        competency=comps[0].code if comps else "",
        level=level,
        line_item=str(items[0].id) if items else "",
        when=today,
    )


def refusals_without(
    session: Session, context_id: int, *, competency: int | None = None, module: int | None = None
) -> list[str]:
    """Why deleting this competency or module would break the course: each module rule that
    still names it (the engine's parser finds the exact place) and each choice offering it."""
    cat = catalog(session, context_id, without_competency=competency, without_module=module)
    out = []
    for m in modules(session, context_id):
        if m.id == module:
            continue
        if module is not None and module in (m.choice_of or []):
            out.append(f'The choice "{m.title}" offers it as one of its paths.')
        if m.unlock_rule is None:
            continue
        try:
            engine.parse_unlock(m.unlock_rule, cat, module=str(m.id))
        except engine.RuleError as exc:
            missing = "no competency with code" in exc.message or "no module with id" in exc.message
            if missing:
                out.append(f'The unlock rule of "{m.title}" uses it ({exc.path}: {exc.message}).')
    return out


def rename_in_rules(session: Session, context_id: int, old: str, new: str) -> int:
    """A competency's new code written into every rule and roll-up that named the old one."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if out.get("competency") == old:
                out["competency"] = new
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    changed = 0
    for m in modules(session, context_id):
        if m.unlock_rule is not None:
            updated = walk(m.unlock_rule)
            if updated != m.unlock_rule:
                m.unlock_rule = updated
                changed += 1
    for c in competencies(session, context_id):
        roll = dict(c.rollup or {})
        if old in (roll.get("required") or []) or old in (roll.get("weights") or {}):
            roll["required"] = [new if r == old else r for r in roll.get("required") or []]
            roll["weights"] = {
                (new if k == old else k): w for k, w in (roll.get("weights") or {}).items()
            }
            c.rollup = roll
    return changed


def method_label(doc: dict[str, Any] | None) -> str:
    doc = doc or DEFAULT_METHOD
    kind = str(doc.get("method"))
    name = METHOD_NAMES.get(kind, kind)
    params = [
        f"{k} = {v:g}" if isinstance(v, int | float) else f"{k} = {v}"
        for k, v in doc.items()
        if k != "method" and v is not None
    ]
    return f"{name} ({', '.join(params)})" if params else name


def course_default_method(rows: list[Competency]) -> dict[str, Any]:
    """The method most of the course's competencies use: what a new competency starts with."""
    if not rows:
        return dict(DEFAULT_METHOD)
    counts = Counter(json.dumps(c.method or DEFAULT_METHOD, sort_keys=True) for c in rows)
    return dict(json.loads(counts.most_common(1)[0][0]))


def method_from_form(form: Any, prefix: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """A method's JSON from its form, and per-field messages; the engine has the last word."""
    kind = form.get(prefix + "method") or ""
    errors: dict[str, str] = {}
    if kind not in METHODS:
        return {"method": kind}, {"method": "Pick one of the methods."}
    doc: dict[str, Any] = {"method": kind}
    for p in PARAMS.get(kind, ()):
        raw = (form.get(f"{prefix}{kind}.{p.name}") or "").strip()
        if not raw:
            if p.optional:
                continue
            errors[p.name] = "Give a number."
            continue
        try:
            value: float | int = float(raw)
        except ValueError:
            errors[p.name] = f'"{raw}" is not a number.'
            continue
        if p.whole:
            if not value.is_integer():
                errors[p.name] = f"{raw} is not a whole number."
                continue
            value = int(value)
        doc[p.name] = value
    if errors:
        return doc, errors
    try:
        method = engine.method_from_json(doc)
    except engine.ConfigError as exc:
        text = str(exc)
        head, _, message = text.partition(": ")
        field = head.split(".", 1)[1] if "." in head else "method"
        return doc, {field: message or text}
    return stored_method(engine.method_to_json(method)), {}


def stored_method(doc: dict[str, Any]) -> dict[str, Any]:
    """What is kept: the method and the parameters it has (BKT's blank `correct_at` dropped)."""
    return {k: v for k, v in doc.items() if v is not None}


def parse_series(text: str | None) -> tuple[tuple[float, ...], str | None]:
    if not text or not text.strip():
        return SAMPLE, None
    try:
        values = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        return SAMPLE, "Type scores separated by commas, such as 1, 2, 3, 4."
    if not values or len(values) > 30:
        return SAMPLE, "Type from 1 to 30 scores."
    return values, None


def example(doc: dict[str, Any], scale: engine.Scale, series: tuple[float, ...]) -> dict[str, Any]:
    """What the engine's method gives for `series`, as the page shows it."""
    try:
        method = engine.method_from_json(doc)
    except engine.ConfigError as exc:
        return {"ok": False, "text": f"No example until the parameters are fixed ({exc})."}
    kept = tuple(min(max(s, scale.bottom_points), scale.top_points) for s in series)
    value = method.calculator(scale)(kept)
    shown = ", ".join(f"{s:g}" for s in kept)
    if value is None:
        return {
            "ok": True,
            "score": None,
            "level": None,
            "series": shown,
            "text": f"Scores {shown} (oldest first) give no score yet.",
        }
    score = round_score(value)
    level = scale.level_for(score)
    name = level.name if level else ""
    return {
        "ok": True,
        "score": score,
        "level": name,
        "series": shown,
        "text": f"Scores {shown} (oldest first) give {score:g}: {name}.",
    }


def all_examples(scale: engine.Scale, series: tuple[float, ...]) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "name": METHOD_NAMES[kind], **example({"method": kind}, scale, series)}
        for kind in METHODS
    ]


def method_defaults(kind: str) -> dict[str, Any]:
    cls = METHODS[kind]
    return {f.name: f.default for f in fields(cls)}


def alignments(session: Session, context_id: int) -> list[Alignment]:
    return list(session.scalars(select(Alignment).where(Alignment.context_id == context_id)))


def can_master(session: Session, context_id: int) -> set[str]:
    """Modules a rule may ask to be mastered: they list competencies (or a choice's option does)."""
    listed = {a.module_id for a in alignments(session, context_id) if a.module_id is not None}
    rows = modules(session, context_id)
    out = {str(m.id) for m in rows if m.id in listed}
    for m in rows:
        if any(str(o) in out for o in m.choice_of or []):
            out.add(str(m.id))
    return out


def recompute(session: Session, context_id: int, user_id: int, what: str) -> Recomputed:
    """Students see a setup change at their next click: the course is recomputed now."""
    return recompute_course(
        session, context_id, cause={"kind": "setup", "by": user_id, "what": what}
    )


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
