"""The demo world: a Canvas-shaped and a Moodle-shaped platform, each with a course of a
teacher, a teaching assistant, 24 students and a mentor, a little content of the LMS's own gated
on the tool's first unlock column, and the tool registered both ways (in the platform, as its
admin would; in the tool, as `lti-tool registration add` would)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from lti_tool.lti.registrations import NewRegistration, add_registration
from lti_tool.models.platform import Registration
from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxCourse,
    SandboxEnrollment,
    SandboxGradeCondition,
    SandboxLink,
    SandboxModule,
    SandboxModuleItem,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import AGS_SCOPES, NRPS_SCOPE, PlatformUrls, add_platform_key
from lti_tool.settings import Settings

STUDENT_NAMES = [
    ("Ava", "Adams"), ("Ben", "Brooks"), ("Chloe", "Chen"), ("Daniel", "Diaz"),
    ("Ella", "Evans"), ("Finn", "Fischer"), ("Grace", "Garcia"), ("Hugo", "Hassan"),
    ("Isla", "Ito"), ("Jack", "Johnson"), ("Kira", "Kowalski"), ("Leo", "Lopez"),
    ("Maya", "Müller"), ("Noah", "Nguyen"), ("Olivia", "O'Brien"), ("Priya", "Patel"),
    ("Quinn", "Quigley"), ("Ruby", "Rossi"), ("Sam", "Schmidt"), ("Tara", "Tanaka"),
    ("Umar", "Usman"), ("Vera", "Volkova"), ("Will", "Walker"), ("Zoe", "Zhang"),
]  # fmt: skip

# Canvas' issuer is an origin without a path, shared by every Canvas site; the sandbox's is
# the origin it is served on, which its dynamic registration's openid configuration URL must
# be on (the tool checks that).
# The tool's unlock columns are `unlock:<module id>`; the id of the first one a teacher gates is
# not known when the demo is laid, so the demo's own content waits for the first such column.
FIRST_UNLOCK_COLUMN = "unlock:"
# A course at least this big is a bulk load: the planner's statistics are refreshed after it.
ANALYZE_AFTER = 1000


@dataclass(frozen=True)
class SeededPlatform:
    slug: str
    name: str
    issuer: str
    client_id: str
    deployment_id: str
    registration_uuid: str
    course_id: int


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _ids(shape: str, n: int) -> tuple[str, str]:
    """(user sub, username) in the platform's own style."""
    if shape == "canvas":
        return str(uuid.uuid4()), f"user{n}"
    return str(n + 1), f"user{n}"


def tool_in_platform(settings: Settings, platform: SandboxPlatform) -> SandboxTool:
    if platform.shape == "canvas":
        client_id = str(10000000000000 + secrets.randbelow(10**6))
        deployment_id = (
            f"{secrets.randbelow(90) + 10}:" + hashlib.sha1(secrets.token_bytes(16)).hexdigest()
        )
    else:
        client_id = secrets.token_urlsafe(11)[:15]
        deployment_id = str(secrets.randbelow(8) + 1)
    return SandboxTool(
        platform_id=platform.id,
        name="Mastery path",
        client_id=client_id,
        deployment_id=deployment_id,
        login_url=settings.url("/lti/login"),
        redirect_uris=[settings.url("/lti/launch")],
        target_link_uri=settings.url("/lti/launch"),
        jwks_url=settings.url("/.well-known/jwks.json"),
        scopes=[*AGS_SCOPES, NRPS_SCOPE],
        # As the README tells an admin to configure it: where a copied course came from.
        custom={"context_history": "$Context.id.history"},
    )


def seed_platform(
    session: Session, settings: Settings, slug: str, shape: str, name: str, students: int = 24
) -> SeededPlatform:
    platform = session.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
    if platform is None:
        issuer = (
            origin_of(settings.sandbox_base_url)
            if shape == "canvas"
            else settings.sandbox_url(f"/sandbox/{slug}")
        )
        platform = SandboxPlatform(slug=slug, shape=shape, name=name, issuer=issuer)
        session.add(platform)
        session.flush()
        add_platform_key(session, platform)
    tool = session.scalar(select(SandboxTool).where(SandboxTool.platform_id == platform.id))
    if tool is None:
        tool = tool_in_platform(settings, platform)
        session.add(tool)
        session.flush()
    course = session.scalar(select(SandboxCourse).where(SandboxCourse.platform_id == platform.id))
    if course is None:
        course = _seed_course(session, platform, tool, students)
    urls = PlatformUrls(settings.sandbox_base_url, platform)
    reg = session.scalar(
        select(Registration).where(
            Registration.issuer == platform.issuer, Registration.client_id == tool.client_id
        )
    )
    if reg is None:
        reg = add_registration(
            session,
            NewRegistration(
                issuer=platform.issuer,
                client_id=tool.client_id,
                auth_login_url=urls.auth,
                auth_token_url=urls.token,
                key_set_url=urls.jwks,
                name=name,
            ),
            [tool.deployment_id],
        )
    return SeededPlatform(
        slug=slug,
        name=name,
        issuer=platform.issuer,
        client_id=tool.client_id,
        deployment_id=tool.deployment_id,
        registration_uuid=reg.uuid,
        course_id=course.id,
    )


def _seed_course(
    session: Session, platform: SandboxPlatform, tool: SandboxTool, students: int
) -> SandboxCourse:
    canvas = platform.shape == "canvas"
    course = SandboxCourse(
        platform_id=platform.id,
        lti_context_id=hashlib.sha1(secrets.token_bytes(8)).hexdigest() if canvas else "2",
        title="Grade 5 Fractions",
        label="MATH5-FR",
    )
    session.add(course)
    session.flush()
    people: list[tuple[str, str, str]] = [
        ("teacher", "Terry", "Teacher"),
        ("ta", "Tess", "Assistant"),
    ]
    for i in range(students):
        given, family = STUDENT_NAMES[i % len(STUDENT_NAMES)]
        if i >= len(STUDENT_NAMES):
            family = f"{family} {i // len(STUDENT_NAMES) + 1}"
        people.append(("student", given, family))
    people.append(("mentor", "Morgan", "Mentor"))
    # Bulk inserts (one statement each, ids returned in order): 10,000 students in ~1 s.
    user_rows = []
    for n, (_role, given, family) in enumerate(people, start=1):
        sub, username = _ids(platform.shape, n)
        user_rows.append(
            {
                "platform_id": platform.id,
                "lti_sub": sub,
                "username": username,
                "given_name": given,
                "family_name": family,
                "email": f"{username}@{platform.slug}.sandbox.test",
            }
        )
    user_ids = list(
        session.scalars(
            insert(SandboxUser).returning(SandboxUser.id, sort_by_parameter_order=True),
            user_rows,
        )
    )
    student_ids = [uid for uid, p in zip(user_ids, people, strict=True) if p[0] == "student"]
    session.execute(
        insert(SandboxEnrollment),
        [
            {
                "course_id": course.id,
                "user_id": uid,
                "role": role,
                "status": "Active",
                "mentee_ids": student_ids[:2] if role == "mentor" else [],
            }
            for uid, (role, _g, _f) in zip(user_ids, people, strict=True)
        ],
    )
    if students >= ANALYZE_AFTER:
        # Until autovacuum gets to them, PostgreSQL plans the new rows as a handful (and
        # then sorts the whole course for each NRPS page); SQLite has no statistics at all.
        for table in (SandboxUser.__tablename__, SandboxEnrollment.__tablename__):
            session.execute(text(f"ANALYZE {table}"))
    session.add_all(
        [
            SandboxLink(
                course_id=course.id,
                tool_id=tool.id,
                lti_id=str(uuid.uuid4()) if canvas else "1",
                title="Mastery path",
            ),
            SandboxLink(
                course_id=course.id,
                tool_id=tool.id,
                lti_id=str(uuid.uuid4()) if canvas else "content-selection",
                title="Add mastery modules",
                message_type="LtiDeepLinkingRequest",
            ),
        ]
    )
    session.flush()
    if canvas:
        _seed_canvas_modules(session, course)
    else:
        _seed_moodle_activities(session, course)
    return course


def _seed_moodle_activities(session: Session, course: SandboxCourse) -> None:
    """A Page anyone may open and a Quiz restricted to students whose first unlock column says
    1 (Restrict access → Grade ≥ 100 %), shown greyed until then."""
    intro = SandboxActivity(
        course_id=course.id,
        kind="page",
        title="Fractions in everyday life",
        body="Pizza slices, recipes and rulers: where fractions turn up outside school.",
        position=1,
    )
    quiz = SandboxActivity(
        course_id=course.id,
        kind="quiz",
        title="Fractions practice quiz",
        body="Ten questions on equivalent fractions. Open once the tool unlocks your first module.",
        position=2,
    )
    session.add_all([intro, quiz])
    session.flush()
    session.add(
        SandboxGradeCondition(
            activity_id=quiz.id, waiting_resource_id=FIRST_UNLOCK_COLUMN, min_percent=100.0
        )
    )


def _seed_canvas_modules(session: Session, course: SandboxCourse) -> None:
    """Module 1 requires "score at least 1" on the first unlock column; module 2, with module 1
    as its prerequisite, stays locked until that score is there."""
    start = SandboxModule(course_id=course.id, name="Start here", position=1, prerequisite_ids=[])
    session.add(start)
    session.flush()
    practice = SandboxModule(
        course_id=course.id, name="Fractions practice", position=2, prerequisite_ids=[start.id]
    )
    session.add(practice)
    session.flush()
    session.add_all(
        [
            SandboxModuleItem(
                module_id=start.id,
                kind="page",
                title="Welcome to fractions",
                body="What this course covers, and how the mastery path opens the next steps.",
                position=1,
            ),
            SandboxModuleItem(
                module_id=start.id,
                kind="column",
                title="Unlocked: the first gated module",
                waiting_resource_id=FIRST_UNLOCK_COLUMN,
                min_score=1.0,
                position=2,
            ),
            SandboxModuleItem(
                module_id=practice.id,
                kind="quiz",
                title="Fractions practice quiz",
                body="Ten questions on equivalent fractions.",
                position=1,
            ),
        ]
    )


def seed_demo(session: Session, settings: Settings, students: int = 24) -> list[SeededPlatform]:
    return [
        seed_platform(session, settings, "canvas", "canvas", "Sandbox Canvas", students),
        seed_platform(session, settings, "moodle", "moodle", "Sandbox Moodle", students),
    ]
