"""Levels as the class view shows them: words, a colour class from the course's level
stylesheet (the CSP allows no inline style) and a text colour that reads on it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.mastery.scales import EPSILON
from lti_tool.models.mastery import Competency
from lti_tool.services.course_model import DEFAULT_LEVELS, CourseScales, levels_of


def text_colour(background: str) -> str:
    """Near-black or white, whichever reads on the level's colour (WCAG relative luminance)."""
    try:
        r, g, b = (int(background.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except (ValueError, IndexError):
        return "#1b1b1b"

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    on_white = 1.05 / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#1b1b1b"


def level_class(scale_id: int | None, levels: list[dict], name: str | None) -> str:
    """The CSS class of a level: the page's CSP allows no inline style, so level colours
    come from the course's level stylesheet (`levels_css`)."""
    for i, lv in enumerate(levels):
        if lv["name"] == name:
            return f"lv-{scale_id or 'd'}-{i}"
    return "lv-none"


def levels_css(session: Session, context_id: int) -> str:
    """One rule per level of every scale of the course (and the default scale): its colour
    and a text colour that reads on it."""
    rules = [".lv-none { background: #f3f3f3; color: #1b1b1b; }"]
    for scale_id, levels in CourseScales.load(session, context_id).all_levels().items():
        for i, lv in enumerate(levels):
            colour = str(lv.get("color") or lv.get("colour") or "#e0e0e0")
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
                colour = "#e0e0e0"
            ink = text_colour(colour)
            rules.append(f".lv-{scale_id or 'd'}-{i} {{ background: {colour}; color: {ink}; }}")
    return "\n".join(rules) + "\n"


def shown_level(levels: list[dict], level: str | None, score: float | None) -> str | None:
    """A stored level as people read it: below the lowest level it is "Below <lowest>", and a
    student with evidence is never labelled "No Evidence" (the engine's `level_label`)."""
    if score is None or level is None or not levels:
        return level
    lowest = min(levels, key=lambda lv: float(lv["points"]))
    if score < float(lowest["points"]) - EPSILON:
        return f"Below {lowest['name']}"
    return "Some evidence" if "no evidence" in level.lower() else level


@dataclass(frozen=True)
class LevelStyle:
    """One competency's scale, worked out once per page: level name -> CSS class, highest
    level first, so no cell searches the scale again."""

    levels: list[dict]
    classes: dict[str, str]
    lowest: float | None

    @classmethod
    def of(cls, scales: CourseScales, scale_id: int | None) -> LevelStyle:
        levels = scales.levels(scale_id)
        key = scales.key(scale_id)
        classes = {lv["name"]: f"lv-{key or 'd'}-{i}" for i, lv in enumerate(levels)}
        lowest = min((float(lv["points"]) for lv in levels), default=None)
        ordered = sorted(levels, key=lambda lv: -float(lv["points"]))
        return cls(ordered, classes, lowest)

    def css(self, level: str | None) -> str:
        return self.classes.get(level, "lv-none") if level else "lv-none"

    def label(self, level: str | None, score: float | None) -> str | None:
        if score is None or level is None or self.lowest is None:
            return level
        if score < self.lowest - EPSILON:
            return f"Below {min(self.levels, key=lambda lv: float(lv['points']))['name']}"
        return "Some evidence" if "no evidence" in level.lower() else level


def course_levels(session: Session, context_id: int) -> list[dict]:
    """The levels people pick from in forms: the scale of the course's first competency (a
    course normally has one scale; the server checks each pick against the competency's)."""
    first = session.scalar(
        select(Competency)
        .where(Competency.context_id == context_id)
        .order_by(Competency.position, Competency.id)
        .limit(1)
    )
    return list(levels_of(session, first) if first is not None else DEFAULT_LEVELS)
