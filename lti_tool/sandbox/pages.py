"""The pages a person sees on the sandbox platform: the list of platforms, a course with its
people, links and own content, "launch as" / "view as", a link's page and the iframe's login
initiation form."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.sandbox.course_copy import copy_course
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxLineItem,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.native_content import course_content
from lti_tool.sandbox.platform import login_initiation_params
from lti_tool.sandbox.services import current_sandbox

log = logging.getLogger("lti_tool.sandbox")
ROLE_ORDER = {"teacher": 0, "ta": 1, "student": 2, "mentor": 3}

bp = Blueprint("pages", __name__)


def platform_or_404(slug: str) -> SandboxPlatform:
    platform = (
        current_sandbox().db().scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
    )
    if platform is None:
        abort(404)
    return platform


def current_user(platform: SandboxPlatform) -> SandboxUser | None:
    """The user this browser launched as on `platform` ("launch as" keeps it in the session)."""
    user_id = session.get(f"user:{platform.slug}")
    user = current_sandbox().db().get(SandboxUser, user_id) if user_id else None
    return user if user is not None and user.platform_id == platform.id else None


def failure(status: int, message: str) -> tuple[str, int]:
    log.warning("sandbox refused %s %s: %s", request.method, request.path, message)
    return render_template("sandbox/error.html", message=message, status=status), status


def course_people(course: SandboxCourse) -> list[tuple[SandboxEnrollment, SandboxUser]]:
    rows = (
        current_sandbox()
        .db()
        .execute(
            select(SandboxEnrollment, SandboxUser)
            .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
            .where(SandboxEnrollment.course_id == course.id)
        )
        .all()
    )
    return sorted(
        ((e, u) for e, u in rows),
        key=lambda eu: (ROLE_ORDER.get(eu[0].role, 9), eu[1].family_name, eu[1].given_name),
    )


def course_or_404(platform: SandboxPlatform, course_id: int) -> SandboxCourse:
    course = current_sandbox().db().get(SandboxCourse, course_id)
    if course is None or course.platform_id != platform.id:
        abort(404)
    return course


@bp.get("/")
def index() -> str:
    db = current_sandbox().db()
    platforms = list(db.scalars(select(SandboxPlatform).order_by(SandboxPlatform.id)))
    courses = {
        p.id: list(db.scalars(select(SandboxCourse).where(SandboxCourse.platform_id == p.id)))
        for p in platforms
    }
    return render_template("sandbox/index.html", platforms=platforms, courses=courses)


@bp.get("/<slug>/courses/<int:course_id>")
def course_page(slug: str, course_id: int) -> str:
    db = current_sandbox().db()
    platform = platform_or_404(slug)
    course = course_or_404(platform, course_id)
    user = current_user(platform)
    links = list(
        db.scalars(
            select(SandboxLink).where(SandboxLink.course_id == course.id).order_by(SandboxLink.id)
        )
    )
    line_items: dict[int, list[SandboxLineItem]] = {}
    for item in db.scalars(
        select(SandboxLineItem)
        .where(SandboxLineItem.course_id == course.id, SandboxLineItem.link_id.is_not(None))
        .order_by(SandboxLineItem.id)
    ):
        line_items.setdefault(item.link_id or 0, []).append(item)
    return render_template(
        "sandbox/course.html",
        platform=platform,
        course=course,
        people=course_people(course),
        links=links,
        line_items=line_items,
        chosen_link_id=request.args.get("link", type=int),
        user=user,
        content=course_content(db, platform.shape, course.id, user.id if user else None),
        saved=request.args.get("saved", ""),
        error=request.args.get("error", ""),
    )


@bp.post("/<slug>/courses/<int:course_id>/copy")
def copy_this_course(slug: str, course_id: int) -> Response:
    """The LMS's "Copy this course": next term's course, then its page."""
    db = current_sandbox().db()
    platform = platform_or_404(slug)
    source = course_or_404(platform, course_id)
    title = (request.form.get("title") or "").strip()[:300]
    course = copy_course(db, source, title)
    log.info("sandbox course %s copied to %s (%s)", source.id, course.id, course.lti_context_id)
    return redirect(url_for(".course_page", slug=slug, course_id=course.id), 303)


@bp.post("/<slug>/courses/<int:course_id>/launch-as")
def launch_as(slug: str, course_id: int) -> Response:
    db = current_sandbox().db()
    platform = platform_or_404(slug)
    course = course_or_404(platform, course_id)
    user = db.get(SandboxUser, request.form.get("user_id", type=int) or 0)
    if user is None or user.platform_id != platform.id:
        abort(400)
    if not request.form.get("link_id"):
        # "View as": the same switch without a launch, back to the course as that person.
        session[f"user:{slug}"] = user.id
        url = url_for(".course_page", slug=slug, course_id=course.id)
        return redirect(url + "#course-content", 303)
    link = db.get(SandboxLink, request.form.get("link_id", type=int) or 0)
    if link is None or link.course_id != course.id:
        abort(400)
    session[f"user:{slug}"] = user.id
    return redirect(url_for(".link_page", slug=slug, course_id=course.id, link_id=link.id))


@bp.get("/<slug>/courses/<int:course_id>/links/<int:link_id>")
def link_page(slug: str, course_id: int, link_id: int) -> Any:
    platform = platform_or_404(slug)
    course = course_or_404(platform, course_id)
    link = current_sandbox().db().get(SandboxLink, link_id)
    if link is None or link.course_id != course.id:
        abort(404)
    user = current_user(platform)
    if user is None:
        return redirect(url_for(".course_page", slug=slug, course_id=course_id))
    return render_template(
        "sandbox/link.html", platform=platform, course=course, link=link, user=user
    )


@bp.get("/<slug>/links/<int:link_id>/initiate")
def initiate(slug: str, link_id: int) -> Any:
    """What the LMS puts in the iframe: an auto-submitting login initiation form."""
    sb = current_sandbox()
    platform = platform_or_404(slug)
    link = sb.db().get(SandboxLink, link_id)
    user = current_user(platform)
    if link is None or user is None:
        return failure(401, "Log in to the sandbox platform first (launch as someone).")
    tool = sb.db().get(SandboxTool, link.tool_id)
    assert tool is not None
    hint = sb.hints.dumps({"link": link.id, "user": user.id})
    params = login_initiation_params(platform, tool, link, user, hint)
    return render_template("sandbox/autopost.html", action=tool.login_url, params=params)
