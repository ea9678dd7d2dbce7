"""What students and mentors see: the path with its explanations, the profile, goals."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    g,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from sqlalchemy import delete, select
from werkzeug.wrappers import Response

from lti_tool.lti.roles import MENTOR, STUDENT, TEACHER
from lti_tool.mastery.rule_render import format_day, format_time, number
from lti_tool.models.course import Membership, User
from lti_tool.models.mastery import Goal
from lti_tool.services.class_view import levels_css
from lti_tool.services.goals import GoalError, add_goal_from_form, goal_levels
from lti_tool.services.student_view import StudentView, student_path, student_view
from lti_tool.web.binding import membership, requires
from lti_tool.web.context import request_db

bp = Blueprint("learner", __name__)


@bp.app_template_filter("num")
def num_filter(value: float) -> str:
    """Numbers as students read them: "2.6", "1,000", never "1e+21"."""
    return number(float(value))


@bp.app_template_filter("when")
def when_filter(value: datetime) -> str:
    """ "3 December 2026 at 14:00" (UTC, which the page says once)."""
    return format_time(value)


@bp.app_template_filter("day")
def day_filter(value: date | datetime) -> str:
    """ "3 December 2026", as a school writes a date."""
    return format_day(value)


def _own_nav(launch_id: str) -> list[tuple[str, str, dict[str, object]]]:
    args = {"launch_id": launch_id}
    return [("learner.path", "My path", args), ("learner.profile", "My profile", args)]


def _mentee_nav(launch_id: str, user_id: int) -> list[tuple[str, str, dict[str, object]]]:
    args = {"launch_id": launch_id, "user_id": user_id}
    return [
        ("pages.mentees", "All mentees", {"launch_id": launch_id}),
        ("learner.mentee_path", "Path", args),
        ("learner.mentee_profile", "Profile", args),
    ]


@bp.get("/c/<launch_id>/levels.css")
@requires(STUDENT, MENTOR, TEACHER)
def levels_stylesheet(launch_id: str) -> Response:
    """The course's level colours as classes: the pages' CSP allows no inline style."""
    css = levels_css(request_db(), g.context.id)
    return Response(css, mimetype="text/css", headers={"Cache-Control": "private, max-age=60"})


@bp.get("/c/<launch_id>/path")
@requires(STUDENT)
def path(launch_id: str) -> str:
    view = student_path(request_db(), g.context.id, g.user.id)
    cards = _path_cards(launch_id, view)
    return _learner_page(launch_id, "path", view, "Your path", _own_nav(launch_id), cards=cards)


# A launch id no page holds (hex: a URL carries it as it is). The cards are drawn with it and
# it is then replaced by the request's own, so one drawing serves each launch of the student.
_LAUNCH = "launch" + secrets.token_hex(16)


def _path_cards(launch_id: str, view: StudentView) -> Markup:
    """The student's module cards, drawn once per course model, facts and URL shape (the
    Jinja of a hundred cards is most of the page's time), this launch's id put in after."""
    drawn = url_for("pages.module", launch_id=_LAUNCH, module_id=0)
    before, after = drawn.split(_LAUNCH)
    mine = url_for("pages.module", launch_id=launch_id, module_id=0)
    # the drawing holds the URLs escaped, as {{ }} writes them: escaping is per character
    own_id = str(escape(mine[len(before) : len(mine) - len(after)]))
    markup = view.drawings.get(drawn) if view.drawings else None
    if markup is None:
        draw = get_template_attribute("learner/_macros.html", "module_cards")
        markup = str(draw(view.modules, _LAUNCH))
        if view.drawings:
            view.drawings.put(drawn, markup)
    return Markup(markup.replace(_LAUNCH, own_id))


def _profile(launch_id: str, error: str = "", status: int = 200) -> tuple[str, int]:
    view = student_view(request_db(), g.context.id, g.user.id)
    names, mastery_level = goal_levels(request_db(), g.context.id)
    page = _learner_page(
        launch_id,
        "profile",
        view,
        "Your profile",
        _own_nav(launch_id),
        levels=names,
        mastery_level=mastery_level,
        error=error,
        saved=request.args.get("saved", ""),
        form=request.form if error else {},
    )
    return page, status


@bp.get("/c/<launch_id>/profile")
@requires(STUDENT)
def profile(launch_id: str) -> tuple[str, int]:
    return _profile(launch_id)


@bp.post("/c/<launch_id>/goals")
@requires(STUDENT)
def add_goal(launch_id: str) -> Response | tuple[str, int]:
    """A student's own goal: a competency level or a module, optionally by a date."""
    try:
        add_goal_from_form(request_db(), g.context.id, g.user.id, g.user.id, request.form)
    except GoalError as exc:
        return _profile(launch_id, str(exc), 400)
    return redirect(url_for("learner.profile", launch_id=launch_id, saved="Goal added."))


@bp.post("/c/<launch_id>/goals/<int:goal_id>/delete")
@requires(STUDENT)
def remove_goal(launch_id: str, goal_id: int) -> Response:
    request_db().execute(
        delete(Goal).where(
            Goal.id == goal_id, Goal.context_id == g.context.id, Goal.user_id == g.user.id
        )
    )
    return redirect(url_for("learner.profile", launch_id=launch_id, saved="Goal removed."))


def _mentee(user_id: int) -> User:
    """A mentee named by the LMS for this mentor (role_scope_mentor), in this course; else 404."""
    own = membership(g.binding)
    subs = set(own.mentees or []) if own else set()
    user = request_db().get(User, user_id)
    if (
        user is None
        or user.registration_id != g.binding.registration_id
        or user.sub not in subs
        or request_db().scalar(
            select(Membership.id).where(
                Membership.context_id == g.context.id, Membership.user_id == user.id
            )
        )
        is None
    ):
        abort(404)
    return user


@bp.get("/c/<launch_id>/mentees/<int:user_id>/path")
@requires(MENTOR)
def mentee_path(launch_id: str, user_id: int) -> str:
    return _mentee_page(launch_id, user_id, "path")


@bp.get("/c/<launch_id>/mentees/<int:user_id>/profile")
@requires(MENTOR)
def mentee_profile(launch_id: str, user_id: int) -> str:
    return _mentee_page(
        launch_id, user_id, "profile", levels=[], mastery_level="", error="", saved="", form={}
    )


def _mentee_page(launch_id: str, user_id: int, page: str, **extra: Any) -> str:
    """A mentee's path or profile as the mentor reads it: the student's page, read-only."""
    mentee = _mentee(user_id)
    view = student_view(request_db(), g.context.id, mentee.id, name=mentee.name or "")
    heading = f"{mentee.name or 'Mentee'}: {page}"
    nav = _mentee_nav(launch_id, mentee.id)
    return _learner_page(launch_id, page, view, heading, nav, own=False, **extra)


def _learner_page(
    launch_id: str, page: str, view: Any, heading: str, nav: Any, own: bool = True, **extra: Any
) -> str:
    """The path or profile page, for the student (own) or their mentor."""
    return render_template(
        f"learner/{page}.html",
        context=g.context,
        view=view,
        heading=heading,
        own=own,
        launch_id=launch_id,
        nav=nav,
        **extra,
    )
