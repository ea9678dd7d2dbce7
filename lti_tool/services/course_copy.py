"""Next term's course: its setup copied from an earlier course of the same registration.

The LMS copies a course with new context, resource link and line item ids, the links' custom
parameters unchanged and the tool's own columns (same resourceId and tag). The tool copies
its setup (scales, competencies, modules with their content and rules, alignments) as new
rows that remember the ids they came from, never student data (evidence, states, overrides,
goals, the outbox, memberships) and never an old course's line item URL: the new course's
columns are found by resourceId, tag or label in the new course's own list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from lti_tool.grading.columns import resource_id_of
from lti_tool.lti.context_history import MOST, earlier_context_ids
from lti_tool.lti.roles import TEACHER
from lti_tool.models.course import Context, Membership
from lti_tool.models.mastery import Alignment, AuditEntry, Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module
from lti_tool.services.placements import never_placed
from lti_tool.services.recompute import lock_course

COPIED = "copied"
EMPTY = "empty"
# Earlier courses listed in the picker: the newest first.
PICKER_LIMIT = 20


class CopyRefused(ValueError):
    """The copy cannot be made as asked; the message says why, for the teacher."""


@dataclass(frozen=True)
class CopyOffer:
    """What the teacher of a course without setup may start from."""

    # The newest course of the LMS's history the tool knows with a setup (None: none).
    from_history: Context | None
    # Their other earlier courses (same registration, where they taught) with a setup.
    earlier: list[Context]

    def sources(self) -> list[Context]:
        return ([self.from_history] if self.from_history else []) + self.earlier


@dataclass
class CopyResult:
    competencies: int = 0
    modules: int = 0
    alignments: int = 0
    # Titles of gradebook columns the new course does not list (their alignments and the
    # rules naming them were not copied: the teacher sets them again).
    missing_columns: list[str] = field(default_factory=list)
    rules_not_copied: list[str] = field(default_factory=list)


def has_setup(session: Session, context_id: int) -> bool:
    """A course with any competency or module has been set up."""
    return bool(
        session.scalar(
            select(
                or_(
                    exists().where(Competency.context_id == context_id),
                    exists().where(Module.context_id == context_id),
                )
            )
        )
    )


def needs_choice(session: Session, context: Context) -> bool:
    """Not asked yet and nothing set up: the teacher is offered a copy or an empty start."""
    return context.setup_choice is None and not has_setup(session, context.id)


def should_offer(session: Session, context: Context, user_id: int) -> bool:
    """A teacher's launch lands on the copy offer only when there is something to copy."""
    return needs_choice(session, context) and bool(offer(session, context, user_id).sources())


def note_history(session: Session, context_id: int, custom: dict[str, Any]) -> None:
    """Keep the history a teacher's launch carried, written only when it changed."""
    ids = earlier_context_ids(custom)
    context = session.get(Context, context_id)
    if context is not None and list(context.history or []) != ids:
        context.history = ids


def _with_setup(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = list(ids)
    if not wanted:
        return set()
    comps = select(Competency.context_id).where(Competency.context_id.in_(wanted))
    mods = select(Module.context_id).where(Module.context_id.in_(wanted))
    return set(session.scalars(comps.union(mods)))


def offer(session: Session, context: Context, user_id: int) -> CopyOffer:
    """The history's newest known course with a setup, then the teacher's other courses."""
    from_history = None
    if context.history:
        known = list(
            session.scalars(
                select(Context).where(
                    Context.registration_id == context.registration_id,
                    Context.id_on_platform.in_(context.history),
                    Context.id != context.id,
                )
            )
        )
        ready = _with_setup(session, (c.id for c in known))
        rank = {cid: i for i, cid in enumerate(context.history)}
        candidates = [c for c in known if c.id in ready]
        # Newest in the history first; the same deployment first among equal ids.
        candidates.sort(
            key=lambda c: (rank[c.id_on_platform], c.deployment_id != context.deployment_id)
        )
        from_history = candidates[0] if candidates else None
    taught = list(
        session.scalars(
            select(Context)
            .join(Membership, Membership.context_id == Context.id)
            .where(
                Context.registration_id == context.registration_id,
                Context.id != context.id,
                Membership.user_id == user_id,
                Membership.role == TEACHER,
            )
            .order_by(Context.updated_at.desc(), Context.id.desc())
            .limit(PICKER_LIMIT * 2)
        )
    )
    ready = _with_setup(session, (c.id for c in taught))
    earlier = [
        c for c in taught if c.id in ready and (from_history is None or c.id != from_history.id)
    ]
    return CopyOffer(from_history, earlier[:PICKER_LIMIT])


def start_empty(context: Context) -> None:
    """The teacher's "Start empty": not asked again."""
    context.setup_choice = EMPTY


def _lineage(row: Scale | Competency | Module) -> list[int]:
    return [row.id, *(row.copied_from_ids or [])][:MOST]


def _column_map(
    session: Session, source: Context, target: Context
) -> tuple[dict[int, int], dict[int, str]]:
    """Source column id -> the new course's column with the same resourceId (or, without
    one, the same label, when only one has it); and the labels of those not found."""
    olds = list(
        session.scalars(select(CourseLineItem).where(CourseLineItem.context_id == source.id))
    )
    news = list(
        session.scalars(
            select(CourseLineItem).where(
                CourseLineItem.context_id == target.id, CourseLineItem.gone_at.is_(None)
            )
        )
    )
    by_rid: dict[str, list[CourseLineItem]] = {}
    by_label: dict[str, list[CourseLineItem]] = {}
    for item in news:
        if item.resource_id:
            by_rid.setdefault(item.resource_id, []).append(item)
        by_label.setdefault(item.label, []).append(item)
    found: dict[int, int] = {}
    missing: dict[int, str] = {}
    for old in olds:
        same = by_rid.get(old.resource_id, []) if old.resource_id else []
        if len(same) != 1:
            same = by_label.get(old.label, [])
        if len(same) == 1:
            found[old.id] = same[0].id
        else:
            missing[old.id] = old.label or "(a column without a name)"
    return found, missing


class _Unmapped(LookupError):
    pass


def _remap_rule(node: Any, modules: dict[int, int], columns: dict[int, int]) -> Any:
    """The rule with module and column ids of the new course; _Unmapped if one has none."""
    if isinstance(node, list):
        return [_remap_rule(n, modules, columns) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("module_completed", "module_mastered") and isinstance(value, str):
            new = modules.get(int(value)) if value.isdigit() else None
            if new is None:
                raise _Unmapped(value)
            out[key] = str(new)
        elif key == "line_item" and isinstance(value, str):
            new = columns.get(int(value)) if value.isdigit() else None
            if new is None:
                raise _Unmapped(value)
            out[key] = str(new)
        else:
            out[key] = _remap_rule(value, modules, columns)
    return out


def copy_setup(session: Session, source: Context, target: Context) -> CopyResult:
    """Copy the source course's setup into the empty target course (no commit: one
    transaction with the caller's). The new course's columns must be stored first."""
    if source.id == target.id or source.registration_id != target.registration_id:
        raise CopyRefused("That course is not one of this LMS's courses.")
    # Two teachers' clicks at once: the second waits here, then finds the first one's setup.
    lock_course(session, target.id)
    if has_setup(session, target.id):
        raise CopyRefused("This course has a setup already: nothing was copied.")
    result = CopyResult()

    scales: dict[int, int] = {}
    for old in session.scalars(
        select(Scale).where(Scale.context_id == source.id).order_by(Scale.id)
    ):
        new = Scale(
            context_id=target.id,
            name=old.name,
            levels=[dict(lv) for lv in old.levels],
            copied_from_ids=_lineage(old),
        )
        session.add(new)
        session.flush()
        scales[old.id] = new.id

    comps: dict[int, Competency] = {}
    old_comps = list(
        session.scalars(
            select(Competency)
            .where(Competency.context_id == source.id)
            .order_by(Competency.position, Competency.id)
        )
    )
    for old in old_comps:
        had_column = bool(old.passback_lineitem_url or old.column_resource_id)
        new = Competency(
            context_id=target.id,
            code=old.code,
            title=old.title,
            description=old.description,
            scale_id=scales.get(old.scale_id) if old.scale_id else None,
            method=dict(old.method or {}),
            min_evidence=old.min_evidence,
            order_by=old.order_by,
            rollup=dict(old.rollup or {}),
            position=old.position,
            column_resource_id=resource_id_of(old) if had_column else None,
            copied_from_ids=_lineage(old),
        )
        session.add(new)
        comps[old.id] = new
    session.flush()
    for old in old_comps:
        if old.parent_id is not None and old.parent_id in comps:
            comps[old.id].parent_id = comps[old.parent_id].id
    result.competencies = len(comps)

    columns, missing = _column_map(session, source, target)
    mods: dict[int, Module] = {}
    old_mods = list(
        session.scalars(
            select(Module)
            .where(Module.context_id == source.id)
            .order_by(Module.position, Module.id)
        )
    )
    for old in old_mods:
        had_column = bool(old.unlock_lineitem_url or old.column_resource_id)
        new = Module(
            context_id=target.id,
            title=old.title,
            description=old.description,
            content=old.content,
            position=old.position,
            score_maximum=old.score_maximum,
            sticky=old.sticky,
            complete_at_percent=old.complete_at_percent,
            gates_lms=old.gates_lms,
            # The LMS item keeps its name; its address is the old course's, so it is left out.
            lms_target_title=old.lms_target_title,
            column_resource_id=resource_id_of(old) if had_column else None,
            copied_from_ids=_lineage(old),
        )
        session.add(new)
        mods[old.id] = new
    session.flush()
    module_ids = {old_id: m.id for old_id, m in mods.items()}
    unmapped_titles: set[str] = set()
    for old in old_mods:
        new = mods[old.id]
        new.choice_of = [module_ids[i] for i in old.choice_of or [] if i in module_ids]
        if old.unlock_rule is None:
            continue
        try:
            new.unlock_rule = _remap_rule(old.unlock_rule, module_ids, columns)
        except _Unmapped as exc:
            # A rule naming a column the new course lacks cannot be parsed: set again by hand.
            result.rules_not_copied.append(old.title)
            if str(exc.args[0]).isdigit():
                unmapped_titles.add(missing.get(int(exc.args[0]), ""))
    result.modules = len(mods)

    for a in session.scalars(select(Alignment).where(Alignment.context_id == source.id)):
        comp = comps.get(a.competency_id)
        if comp is None:
            continue
        if a.module_id is not None and a.module_id in mods:
            session.add(
                Alignment(
                    context_id=target.id,
                    competency_id=comp.id,
                    module_id=mods[a.module_id].id,
                    weight=a.weight,
                )
            )
            result.alignments += 1
        elif a.line_item_id is not None:
            if a.line_item_id in columns:
                session.add(
                    Alignment(
                        context_id=target.id,
                        competency_id=comp.id,
                        line_item_id=columns[a.line_item_id],
                        weight=a.weight,
                    )
                )
                result.alignments += 1
            else:
                unmapped_titles.add(missing.get(a.line_item_id, ""))
    result.missing_columns = sorted(t for t in unmapped_titles if t)

    _links_came_along(session, source, target, mods)
    target.columns_out_of_total = list(source.columns_out_of_total or [])
    target.copied_from_id = source.id
    target.setup_choice = COPIED
    session.flush()
    return result


def _links_came_along(
    session: Session, source: Context, target: Context, mods: dict[int, Module]
) -> None:
    """The LMS copied the links of the modules placed in the source: the placement picker
    does not offer those ticked again (a second link each)."""
    olds = list(session.scalars(select(Module).where(Module.context_id == source.id)))
    not_placed = never_placed(session, olds)
    placed = [mods[o.id] for o in olds if o.id in mods and o.id not in not_placed]
    if placed:
        session.add(
            AuditEntry(
                context_id=target.id,
                kind="placed",
                detail={
                    "modules": [m.id for m in placed],
                    "titles": [m.title for m in placed],
                    "copied_from": source.id,
                },
            )
        )


def modules_by_placed_id(modules: Iterable[Module]) -> dict[int, Module]:
    """A course's modules by every id a placed link or column may name: their own, and the
    ids they had in the courses they were copied from (their own id wins)."""
    index: dict[int, Module] = {}
    ordered = list(modules)
    for m in ordered:
        for old in reversed(m.copied_from_ids or []):
            index.setdefault(old, m)
    for m in ordered:
        index[m.id] = m
    return index


def module_of_copied_link(session: Session, module_id: int, context_id: int) -> int | None:
    """The module a copied link opens: its custom module_id is the id the module had in the
    course the link was copied from (or one before it)."""
    modules = session.scalars(select(Module).where(Module.context_id == context_id))
    found = modules_by_placed_id(modules).get(module_id)
    return found.id if found is not None else None


def earlier_module_ids(session: Session, module_ids: set[int]) -> set[int]:
    """The ids these modules had in earlier courses, which their copied columns still name."""
    if not module_ids:
        return set()
    rows = session.scalars(select(Module.copied_from_ids).where(Module.id.in_(module_ids)))
    return {old for ids in rows for old in ids or []}
