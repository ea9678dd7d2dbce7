"""The sandbox's "Copy this course", as Canvas' course copy and Moodle's backup and restore
do it for a tool (shared/platforms/course-copy.md): a new context id, new resource link ids
with their custom parameters unchanged, every gradebook column (the tool's own ones with their
resourceId, tag, label and maximum) under new URLs, the course's own content with its gates,
and `$Context.id.history` naming the source first. No grade, result or progression is copied.

The same people are enrolled again, standing in for next term's class, so the demo can launch.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxCourse,
    SandboxEnrollment,
    SandboxGradeCondition,
    SandboxLineItem,
    SandboxLink,
    SandboxModule,
    SandboxModuleItem,
    SandboxPlatform,
)

# The history a platform keeps of one course (Canvas truncates long ones too).
HISTORY_KEPT = 20


def _new_context_id(session: Session, platform: SandboxPlatform) -> str:
    if platform.shape == "canvas":
        return hashlib.sha1(secrets.token_bytes(8)).hexdigest()
    used = set(
        session.scalars(
            select(SandboxCourse.lti_context_id).where(SandboxCourse.platform_id == platform.id)
        )
    )
    n = len(used) + 2
    while str(n) in used:
        n += 1
    return str(n)  # Moodle's course ids are numbers


def copy_course(session: Session, source: SandboxCourse, title: str = "") -> SandboxCourse:
    platform = session.get(SandboxPlatform, source.platform_id)
    assert platform is not None
    course = SandboxCourse(
        platform_id=platform.id,
        lti_context_id=_new_context_id(session, platform),
        title=title or f"{source.title} (next term)",
        label=source.label,
        history=[source.lti_context_id, *(source.history or [])][:HISTORY_KEPT],
    )
    session.add(course)
    session.flush()
    for e in session.scalars(
        select(SandboxEnrollment).where(SandboxEnrollment.course_id == source.id)
    ):
        session.add(
            SandboxEnrollment(
                course_id=course.id,
                user_id=e.user_id,
                role=e.role,
                status="Active",
                mentee_ids=list(e.mentee_ids or []),
            )
        )
    links: dict[int, SandboxLink] = {}
    for old in session.scalars(
        select(SandboxLink).where(SandboxLink.course_id == source.id).order_by(SandboxLink.id)
    ):
        new = SandboxLink(
            course_id=course.id,
            tool_id=old.tool_id,
            lti_id="",
            title=old.title,
            url=old.url,
            custom=dict(old.custom or {}),
            message_type=old.message_type,
        )
        session.add(new)
        links[old.id] = new
    session.flush()
    for new in links.values():
        # A copied link gets a new id (LTI 1.3 core §5.3.5), in the platform's style.
        new.lti_id = str(uuid.uuid4()) if platform.shape == "canvas" else f"{new.id + 1000}"
    items: dict[int, SandboxLineItem] = {}
    for old in session.scalars(
        select(SandboxLineItem)
        .where(SandboxLineItem.course_id == source.id)
        .order_by(SandboxLineItem.id)
    ):
        new_item = SandboxLineItem(
            course_id=course.id,
            tool_id=old.tool_id,
            label=old.label,
            score_maximum=old.score_maximum,
            resource_id=old.resource_id,
            tag=old.tag,
            link_id=links[old.link_id].id if old.link_id in links else None,
            start_date_time=old.start_date_time,
            end_date_time=old.end_date_time,
            post_manually=old.post_manually,
        )
        session.add(new_item)
        items[old.id] = new_item
    session.flush()
    _copy_content(session, source, course, {k: v.id for k, v in items.items()})
    session.flush()
    return course


def _copy_content(
    session: Session, source: SandboxCourse, course: SandboxCourse, items: dict[int, int]
) -> None:
    """The course's own activities and modules, their gates pointing at the copied columns."""
    for act in session.scalars(
        select(SandboxActivity).where(SandboxActivity.course_id == source.id)
    ):
        new_act = SandboxActivity(
            course_id=course.id,
            kind=act.kind,
            title=act.title,
            body=act.body,
            position=act.position,
        )
        session.add(new_act)
        session.flush()
        for cond in session.scalars(
            select(SandboxGradeCondition).where(SandboxGradeCondition.activity_id == act.id)
        ):
            session.add(
                SandboxGradeCondition(
                    activity_id=new_act.id,
                    line_item_id=items.get(cond.line_item_id or 0),
                    waiting_resource_id=cond.waiting_resource_id,
                    min_percent=cond.min_percent,
                    max_percent=cond.max_percent,
                    shown=cond.shown,
                )
            )
    modules: dict[int, SandboxModule] = {}
    old_modules = list(
        session.scalars(select(SandboxModule).where(SandboxModule.course_id == source.id))
    )
    for mod in old_modules:
        modules[mod.id] = SandboxModule(course_id=course.id, name=mod.name, position=mod.position)
        session.add(modules[mod.id])
    session.flush()
    for mod in old_modules:
        modules[mod.id].prerequisite_ids = [
            modules[p].id for p in mod.prerequisite_ids or [] if p in modules
        ]
        for item in session.scalars(
            select(SandboxModuleItem).where(SandboxModuleItem.module_id == mod.id)
        ):
            session.add(
                SandboxModuleItem(
                    module_id=modules[mod.id].id,
                    kind=item.kind,
                    title=item.title,
                    body=item.body,
                    position=item.position,
                    line_item_id=items.get(item.line_item_id or 0),
                    waiting_resource_id=item.waiting_resource_id,
                    min_score=item.min_score,
                )
            )
