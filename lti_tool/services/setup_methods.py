"""Calculation methods as a teacher meets them: names, help, parameter forms, and the live
example the engine's own calculator gives for a typed series of scores."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.mastery.methods import METHODS
from lti_tool.mastery.scales import round_score
from lti_tool.models.mastery import DEFAULT_METHOD, Competency
from lti_tool.models.types import utcnow
from lti_tool.services.setup_course import competencies
from lti_tool.services.setup_tx import refusing

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
        method = mastery.method_from_json(doc)
    except mastery.ConfigError as exc:
        text = str(exc)
        head, _, message = text.partition(": ")
        field = head.split(".", 1)[1] if "." in head else "method"
        return doc, {field: message or text}
    return stored_method(mastery.method_to_json(method)), {}


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


def example(doc: dict[str, Any], scale: mastery.Scale, series: tuple[float, ...]) -> dict[str, Any]:
    """What the engine's method gives for `series`, as the page shows it."""
    try:
        method = mastery.method_from_json(doc)
    except mastery.ConfigError as exc:
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


def all_examples(scale: mastery.Scale, series: tuple[float, ...]) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "name": METHOD_NAMES[kind], **example({"method": kind}, scale, series)}
        for kind in METHODS
    ]


def set_course_method(session: Session, context_id: int, by: int, doc: dict[str, Any]) -> int:
    """Every competency of the course on one method; how many there are."""
    with refusing(session, context_id, by, "course method changed", field="method"):
        comps = competencies(session, context_id)
        for c in comps:
            c.method = dict(doc)
            c.updated_at = utcnow()
    return len(comps)


def page_context() -> dict[str, Any]:
    """What a method form shows: the methods, their names, help and parameters."""
    return {
        "methods": list(METHODS),
        "method_names": METHOD_NAMES,
        "method_help": METHOD_HELP,
        "params": PARAMS,
    }
