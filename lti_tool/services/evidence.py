"""Evidence in: the course's gradebook columns and their results, read through AGS, and
teacher ratings entered in the tool.

Each result is kept once per column, student and competency (the key is the column): a
changed grade replaces its earlier value, a deleted grade withdraws it. Everything is read
from the platform first and written after, so no write transaction waits on the network.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.clients import ags
from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.ids import row_id
from lti_tool.models.course import Context, User
from lti_tool.models.mastery import (
    Alignment,
    Competency,
    CourseLineItem,
    Evidence,
)
from lti_tool.models.modules import Module
from lti_tool.models.stored_text import display_text, limit_of, url_or_none
from lti_tool.models.types import url_hash, utcnow
from lti_tool.services import course_copy, parent_evidence
from lti_tool.services.course_model import scale_of
from lti_tool.services.grade_problems import (
    Checked,
    check_result,
    forget_unread,
    replace_problems,
    unknown_person,
)
from lti_tool.services.recompute import lock_course

log = logging.getLogger("lti_tool.evidence")

PASSBACK_TAG = "competency"


@dataclass
class GradePull:
    columns: int = 0
    results: int = 0
    added: int = 0
    changed: int = 0
    withdrawn: int = 0
    # Results skipped or capped (recorded with why: `services.grade_problems`).
    problems: int = 0
    # Per student, the evidence that changed: the cause the audit log records.
    touched: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def note(self, user_id: int, column: CourseLineItem, what: str, score: float | None) -> None:
        self.touched.setdefault(user_id, []).append(
            {"column": column.label, "line_item": column.id, "change": what, "score": score}
        )

    @property
    def any_change(self) -> bool:
        return bool(self.added or self.changed or self.withdrawn)


def _parse_time(value: Any, default: datetime) -> datetime:
    if not isinstance(value, str) or not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return default
    return parsed if parsed.tzinfo else default


def read_platform(
    caller: ServiceCaller,
    context: Context,
    aligned_urls: set[str],
    practising: set[int] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The course's line items, and the results of the aligned ones (no database writes).

    `practising`: modules aligned to competencies; the column the LMS made when such a module
    was placed (resourceId `module:<id>`) is read too, as it is aligned on this very sync."""
    if not context.lineitems_url:
        return [], {}
    items = list(ags.lineitems(caller, context.lineitems_url))
    wanted = set(aligned_urls)
    for item in items:
        module_id = placed_module_id(item)
        if module_id is not None and module_id in (practising or set()):
            wanted.add(str(item.get("id")))
    listed = {str(i.get("id")) for i in items}
    results = {url: list(ags.results(caller, url)) for url in wanted if url in listed}
    return items, results


def placed_module_id(item: dict[str, Any]) -> int | None:
    """The module whose placement made this column (our deep-linking resourceId)."""
    kind, _, raw = str(item.get("resourceId") or "").partition(":")
    return row_id(raw) if kind == "module" else None


def link_placed_columns(
    session: Session, context_id: int, columns: dict[str, CourseLineItem]
) -> int:
    """A placed module's own column counts for that module without any setup: the module
    completes on its grade, and the grade is evidence of the module's competencies (unless
    the teacher aligned the column otherwise). Returns how many columns were linked."""
    # By the ids a copied course's columns still name, too (`module:<id in the old course>`).
    modules = course_copy.modules_by_placed_id(
        session.scalars(select(Module).where(Module.context_id == context_id))
    )
    practised: dict[int, list[int]] = {}
    for module_id, comp_id in session.execute(
        select(Alignment.module_id, Alignment.competency_id).where(
            Alignment.context_id == context_id, Alignment.module_id.is_not(None)
        )
    ):
        practised.setdefault(module_id, []).append(comp_id)
    already = set(
        session.scalars(
            select(Alignment.line_item_id).where(
                Alignment.context_id == context_id, Alignment.line_item_id.is_not(None)
            )
        )
    )
    linked = 0
    for url, column in columns.items():
        module = modules.get(placed_module_id({"resourceId": column.resource_id}) or 0)
        if module is None:
            continue
        if not module.lineitem_url:
            module.lineitem_url = url
            linked += 1
        if column.id not in already and module.lineitem_url == url:
            for comp_id in parent_evidence.leaves(
                session, context_id, practised.get(module.id, [])
            ):
                session.add(
                    Alignment(context_id=context_id, competency_id=comp_id, line_item_id=column.id)
                )
                linked += 1
    session.flush()
    return linked


def column_maximum(item: dict[str, Any]) -> float:
    """The column's scoreMaximum, or 0 when it is no number above 0: its results then count
    only with a maximum of their own (each other one is listed for the teacher)."""
    raw = item.get("scoreMaximum")
    number = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def store_line_items(
    session: Session, context: Context, items: list[dict[str, Any]], now: datetime
) -> dict[str, CourseLineItem]:
    known = {
        li.url_hash: li
        for li in session.scalars(
            select(CourseLineItem).where(CourseLineItem.context_id == context.id)
        )
    }
    seen: dict[str, CourseLineItem] = {}
    for item in items:
        url = url_or_none(item.get("id"), limit_of(CourseLineItem.url))
        if url is None or item.get("tag") == PASSBACK_TAG:
            if item.get("id") and item.get("tag") != PASSBACK_TAG:
                log.warning("column skipped: its id cannot be kept (%.200r)", item.get("id"))
            continue  # our own competency columns are outputs, never evidence
        row = known.get(url_hash(url))
        if row is None:
            row = CourseLineItem(context_id=context.id, url=url, url_hash=url_hash(url))
            session.add(row)
        row.label = display_text(item.get("label") or "", limit_of(CourseLineItem.label))
        row.score_maximum = column_maximum(item)
        row.resource_id = display_text(item.get("resourceId") or "", 255)
        row.tag = display_text(item.get("tag") or "", 255)
        row.gone_at = None
        seen[url] = row
    for row in known.values():
        if row.url not in seen and row.gone_at is None:
            row.gone_at = now
    session.flush()
    return seen


def aligned_columns(session: Session, context_id: int) -> dict[int, list[Competency]]:
    out: dict[int, list[Competency]] = {}
    rows = session.execute(
        select(Alignment.line_item_id, Competency)
        .join(Competency, Competency.id == Alignment.competency_id)
        .where(Alignment.context_id == context_id, Alignment.line_item_id.is_not(None))
    )
    for line_item_id, comp in rows:
        out.setdefault(line_item_id, []).append(comp)
    return out


def pull_grades(
    session: Session, caller: ServiceCaller, context: Context, now: datetime | None = None
) -> GradePull:
    now = now or utcnow()
    out = GradePull()
    aligned = aligned_columns(session, context.id)
    urls = {
        li.url
        for li in session.scalars(
            select(CourseLineItem).where(CourseLineItem.id.in_(list(aligned)))
        )
    }
    practising = set(
        session.scalars(
            select(Alignment.module_id).where(
                Alignment.context_id == context.id, Alignment.module_id.is_not(None)
            )
        )
    )
    practising |= course_copy.earlier_module_ids(session, practising)
    items, results = read_platform(caller, context, urls, practising)
    lock_course(session, context.id)
    columns = store_line_items(session, context, items, now)
    # as the LMS wrote them, so a skipped grade's reason shows the column's own value
    raw_maxima = {
        str(i.get("id")): i["scoreMaximum"] for i in items if i.get("scoreMaximum") is not None
    }
    if link_placed_columns(session, context.id, columns):
        aligned = aligned_columns(session, context.id)
    users = {
        u.sub: u.id
        for u in session.scalars(
            select(User).where(User.registration_id == context.registration_id)
        )
    }
    for url, rows in results.items():
        column = columns.get(url)
        if column is None:
            continue
        comps = aligned.get(column.id, [])
        out.columns += 1
        key = f"ags:{column.id}"
        existing = {
            (e.user_id, e.competency_id): e
            for e in session.scalars(
                select(Evidence).where(
                    Evidence.context_id == context.id, Evidence.source_key == key
                )
            )
        }
        present: set[tuple[int, int]] = set()
        problems: list[tuple[int | None, str, Checked]] = []
        for result in rows:
            if result.get("resultScore") is None:
                continue  # not graded (yet)
            ref = str(result.get("userId"))
            user_id = users.get(ref)
            checked = (
                unknown_person(result)
                if user_id is None
                else check_result(result, raw_maxima.get(url, column.score_maximum))
            )
            if checked.kind is not None:
                problems.append((user_id, ref, checked))
            if user_id is None or checked.points is None or checked.maximum is None:
                continue  # skipped: recorded, and any earlier value of it withdrawn below
            given, maximum = checked.points, checked.maximum
            out.results += 1
            graded_at = _parse_time(result.get("timestamp"), now)
            for comp in comps:
                # Kept as observed; the engine puts it on the competency's scale.
                present.add((user_id, comp.id))
                row = existing.get((user_id, comp.id))
                if row is None:
                    session.add(
                        Evidence(
                            context_id=context.id,
                            user_id=user_id,
                            competency_id=comp.id,
                            source="ags",
                            source_key=key,
                            line_item_id=column.id,
                            result_id=str(result.get("id") or "") or None,
                            raw_score=float(given),
                            raw_maximum=maximum,
                            graded_at=graded_at,
                            updated_at=now,
                        )
                    )
                    out.added += 1
                    out.note(user_id, column, "added", float(given))
                elif (
                    row.withdrawn_at is not None
                    or abs(row.raw_score - float(given)) > 1e-9
                    or abs(row.raw_maximum - maximum) > 1e-9
                    or row.graded_at != graded_at
                ):
                    row.raw_score, row.raw_maximum = float(given), maximum
                    row.graded_at, row.withdrawn_at, row.updated_at = graded_at, None, now
                    out.changed += 1
                    out.note(user_id, column, "changed", float(given))
        for pair, row in existing.items():
            if pair not in present and row.withdrawn_at is None:
                row.withdrawn_at = now
                out.withdrawn += 1
                out.note(pair[0], column, "withdrawn", None)
        replace_problems(session, context.id, column.id, problems, now)
        out.problems += len(problems)
        column.results_read_at = now
    forget_unread(session, context.id, {c.id for url, c in columns.items() if url in results})
    session.flush()
    return out


def add_rating(
    session: Session,
    context_id: int,
    competency: Competency,
    user_id: int,
    points: float,
    note: str,
    by_user_id: int | None,
    now: datetime | None = None,
) -> Evidence:
    """A teacher's rating of a student on a competency, in the competency's scale points; kept
    out of that scale's top, so a scale picked later reads it proportionally."""
    now = now or utcnow()
    top = scale_of(session, competency).top_points
    row = Evidence(
        context_id=context_id,
        user_id=user_id,
        competency_id=competency.id,
        source="rating",
        source_key=f"rating:{secrets.token_hex(8)}",
        raw_score=points,
        raw_maximum=top,
        graded_at=now,
        note=note,
        by_user_id=by_user_id,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row
