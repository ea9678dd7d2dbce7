"""The sandbox's teacher forms carry Flask-WTF's CSRF token, bound to the sandbox's own session,
so another site cannot change a course's content through a teacher's browser."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError


def init_app(app: Flask) -> None:
    """`{{ csrf_token() }}` in the sandbox's templates."""
    app.jinja_env.globals["csrf_token"] = generate_csrf


def form_refused() -> str | None:
    """Why the posted form's token is refused, or None when it is good."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        return str(exc.args[0]) if exc.args else "The CSRF token is invalid."
    return None
