"""The launch binding: which registration, deployment, course, user and role a browser's
launch is for. Kept in the signed session cookie (stateless across web processes) and
checked on every request; a learner's binding never opens a teacher URL.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, session
from sqlalchemy import bindparam, select, true

from lti_tool.lti.roles import MENTOR, STUDENT, TEACHER
from lti_tool.models.course import Context, Membership, User
from lti_tool.web import launch_token
from lti_tool.web.context import request_db, runtime

MAX_LAUNCHES = 6
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Binding:
    launch_id: str
    registration_id: int
    deployment_id: int
    context_id: int
    user_id: int
    role: str
    message_type: str
    # Origins allowed to frame this launch's pages (Content-Security-Policy frame-ancestors).
    frame_origins: tuple[str, ...] = ()
    # The module a placed link opens (its custom module_id), checked to be in this course.
    module_id: int | None = None


def bind(
    registration_id: int,
    deployment_id: int,
    context_id: int,
    user_id: int,
    role: str,
    message_type: str,
    frame_origins: list[str] | None = None,
    module_id: int | None = None,
    cookieless: bool = False,
) -> str:
    """The launch id the tool's URLs carry; `cookieless`: the binding signed into it."""
    launch_id = secrets.token_urlsafe(12)
    launches: dict[str, dict[str, Any]] = dict(session.get("launches", {}))
    now = int(time.time())
    launches = {k: v for k, v in launches.items() if v.get("exp", 0) > now}
    while len(launches) >= MAX_LAUNCHES:
        launches.pop(min(launches, key=lambda k: launches[k]["exp"]))
    launches[launch_id] = {
        "r": registration_id,
        "d": deployment_id,
        "c": context_id,
        "u": user_id,
        "role": role,
        "mt": message_type,
        "fa": frame_origins or [],
        "m": module_id,
        "exp": now + runtime().settings.launch_session_seconds,
    }
    if cookieless:  # the browser keeps no cookie (web/launch_token.py)
        return launch_token.issue(
            current_app.config["SECRET_KEY"], {**launches[launch_id], "n": launch_id}
        )
    session["launches"] = launches
    session.permanent = True
    return launch_id


def current_binding(launch_id: str) -> Binding:
    entry = session.get("launches", {}).get(launch_id)
    if entry is None and launch_token.is_token(launch_id):
        seconds = runtime().settings.launch_session_seconds
        entry = launch_token.read(current_app.config["SECRET_KEY"], launch_id, seconds)
    if not entry or entry.get("exp", 0) <= time.time():
        abort(401, description="expired")
    return Binding(
        launch_id=launch_id,
        registration_id=entry["r"],
        deployment_id=entry["d"],
        context_id=entry["c"],
        user_id=entry["u"],
        role=entry["role"],
        message_type=entry["mt"],
        frame_origins=tuple(entry.get("fa", ())),
        module_id=entry.get("m"),
    )


def requires(*roles: str) -> Callable[[F], F]:
    """Load the binding named in the URL and refuse roles not listed (403)."""
    allowed = set(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(launch_id: str, *args: Any, **kwargs: Any) -> Any:
            binding = current_binding(launch_id)
            if binding.role not in allowed:
                current_app.logger.warning(
                    "role %s refused at %s (launch %s)", binding.role, view.__name__, launch_id
                )
                abort(403)
            # the course and the person in one round trip: every page of the tool reads both
            found = (
                request_db()
                .execute(
                    _CONTEXT_AND_USER, {"context": binding.context_id, "user": binding.user_id}
                )
                .first()
            )
            context, user = found if found is not None else (None, None)
            if (
                context is None
                or user is None
                or context.registration_id != binding.registration_id
                or context.deployment_id != binding.deployment_id
                or user.registration_id != binding.registration_id
            ):
                abort(401, description="expired")
            g.binding = binding
            g.context = context
            g.user = user
            return view(launch_id, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# two rows by primary key in one round trip, joined ON true (said, or SQLAlchemy warns of a
# cartesian product)
_CONTEXT_AND_USER = (
    select(Context, User)
    .join_from(Context, User, true())
    .where(Context.id == bindparam("context"), User.id == bindparam("user"))
)


def membership(binding: Binding) -> Membership | None:
    return request_db().scalar(
        select(Membership).where(
            Membership.context_id == binding.context_id, Membership.user_id == binding.user_id
        )
    )


ALL_ROLES = (TEACHER, STUDENT, MENTOR)
