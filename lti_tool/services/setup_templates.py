"""Rule templates: a chain through the course, a module behind one competency, and a choice
between paths, each written as the rules the engine reads."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.services import setup_rules as rules
from lti_tool.services.setup_course import can_master, modules, scale_of
from lti_tool.services.setup_tx import SetupRefused, refusing


def _mode(m: Module) -> str:
    return "sticky" if m.sticky else "reevaluated"


def chain(session: Session, context_id: int, by: int) -> int:
    """Each module unlocks when the one before it is mastered (or finished); how many modules."""
    mods = modules(session, context_id)
    if len(mods) < 2:
        raise SetupRefused("chain", "Make at least two modules first.")
    with refusing(session, context_id, by, "template: chain", field="chain"):
        choices = {str(m.id): [str(o) for o in m.choice_of or []] for m in mods if m.choice_of}
        ids = [str(m.id) for m in mods]
        docs = rules.chain_rules(ids, choices, can_master(session, context_id))
        for m in mods:
            doc = docs.get(str(m.id))
            if doc is not None:
                m.unlock_rule = {**doc, "mode": _mode(m)}
    return len(mods)


def behind_competency(session: Session, m: Module, c: Competency, by: int, keep: bool) -> str:
    """The module unlocks at the competency's mastery level (and its old rule, if kept); the
    level's name."""
    level = scale_of(session, c).mastery_level.name
    leaf = {"competency": c.code, "level": level}
    old = (m.unlock_rule or {}).get("rule")
    rule = {"all": [old, leaf]} if old is not None and keep else leaf
    with refusing(
        session, m.context_id, by, "template: competency", field="competency", module_id=m.id
    ):
        m.unlock_rule = {"mode": _mode(m), "rule": rule}
    return level


def choice(
    session: Session, context_id: int, by: int, options: list[int | None], title: str
) -> tuple[Module, list[Module]]:
    """A choice module after the last of its options (this course's modules among `options`):
    finishing any one completes it; the choice and its options."""
    mods = {m.id: m for m in modules(session, context_id)}
    chosen = [i for i in options if i in mods]
    if len(chosen) < 2:
        raise SetupRefused("choice", "Pick at least two modules to choose from.")
    with refusing(session, context_id, by, "template: choice", field="choice"):
        position = max(mods[i].position for i in chosen)
        for m in mods.values():
            if m.position > position:
                m.position += 1
        made = Module(
            context_id=context_id, title=title[:300], position=position + 1, choice_of=chosen
        )
        session.add(made)
    return made, [mods[i] for i in chosen]
