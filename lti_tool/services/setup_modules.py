"""Modules written for course setup: added (from setup or the LMS's placement dialog), edited,
moved, deleted once nothing offers or names them, and their unlock rules saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.modules import Module
from lti_tool.services.setup_course import modules, refusals_without
from lti_tool.services.setup_tx import changed, delete, refusing


@dataclass(frozen=True)
class ModuleValues:
    title: str
    description: str = ""
    content: str = ""
    sticky: bool = False
    lineitem_url: str | None = None
    complete_at_percent: float | None = None
    score_maximum: float | None = None
    choice_of: list[int] = field(default_factory=list)
    gates_lms: bool = False
    lms_target_title: str = ""
    lms_target_url: str = ""


def _apply(m: Module, v: ModuleValues) -> None:
    m.title, m.description, m.sticky = v.title, v.description, v.sticky
    m.content = v.content
    m.lineitem_url = v.lineitem_url
    m.complete_at_percent = v.complete_at_percent
    m.score_maximum = v.score_maximum
    m.choice_of = list(v.choice_of)
    m.gates_lms = v.gates_lms
    m.lms_target_title, m.lms_target_url = v.lms_target_title, v.lms_target_url
    if m.unlock_rule is not None or m.sticky:
        m.unlock_rule = {
            "mode": "sticky" if m.sticky else "reevaluated",
            "rule": (m.unlock_rule or {}).get("rule"),
        }


def add_module(session: Session, context_id: int, by: int, v: ModuleValues) -> Module:
    """A new module at the end of the course."""
    with refusing(session, context_id, by, "module added"):
        position = session.scalar(
            select(func.coalesce(func.max(Module.position), 0)).where(
                Module.context_id == context_id
            )
        )
        m = Module(context_id=context_id, position=(position or 0) + 1)
        _apply(m, v)
        session.add(m)
    return m


def save_module(session: Session, m: Module, by: int, v: ModuleValues) -> None:
    """The recompute that follows queues every student's unlock score when the module starts
    gating LMS content; when it stops, the scores not posted yet are dropped (the column
    stays in the LMS with what it holds, for the teacher to delete there)."""
    with refusing(session, m.context_id, by, "module changed", module_id=m.id):
        stopped = m.gates_lms and not v.gates_lms
        _apply(m, v)
        if stopped:
            session.execute(sa_delete(ScoreOutbox).where(ScoreOutbox.module_id == m.id))


def move_module(session: Session, m: Module, by: int, up: bool) -> int:
    """One place up or down; the module's number now (a move cannot break a rule)."""
    mods = modules(session, m.context_id)
    i = mods.index(m)
    j = i - 1 if up else i + 1
    if 0 <= j < len(mods):
        mods[i], mods[j] = mods[j], mods[i]
    for position, row in enumerate(mods, start=1):
        row.position = position
    changed(session, m.context_id, by, "module moved")
    return mods.index(m) + 1


def delete_module(session: Session, m: Module, by: int) -> None:
    """Refused while a choice offers it or a rule names it: each of them is listed."""
    refusals = refusals_without(session, m.context_id, module=m.id)
    delete(session, m, by, "module deleted", refusals, "Change those first.")


def save_rule(
    session: Session, m: Module, by: int, doc: dict[str, Any] | None, sticky: bool
) -> None:
    """The module's unlock rule (None: always open) and whether an unlock sticks."""
    with refusing(session, m.context_id, by, "unlock rule changed", field="rule", module_id=m.id):
        m.unlock_rule = doc
        m.sticky = sticky
