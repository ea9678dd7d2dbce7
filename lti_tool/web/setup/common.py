"""What every setup page shares: the blueprint, rendering with the error summary, the redirect
after a saved change, and the course's own rows only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from lti_tool.services.recompute import QUEUED
from lti_tool.web import error_summary
from lti_tool.web.context import after_this_request_commit, request_db, runtime

bp = Blueprint("setup", __name__)

Page = str | tuple[str, int] | Response


def url(endpoint: str, **kw: Any) -> str:
    return url_for(endpoint, launch_id=g.binding.launch_id, **kw)


def render(template: str, status: int = 200, **kw: Any) -> tuple[str, int]:
    summary = error_summary.summary(template, kw) if status >= 400 else []
    return render_template(template, context=g.context, summary=summary, **kw), status


def saved(message: str, endpoint: str, **kw: Any) -> Response:
    """Show where the change landed (the service has recomputed the course); scores that
    recompute queued (a rescaled competency, a module now gating LMS content) are posted once
    the change is committed."""
    flash(message)
    jobs = runtime().jobs
    for context_id in request_db().info.pop(QUEUED, set()):
        after_this_request_commit(lambda c=context_id: jobs.enqueue("drain", c))
    return redirect(url(endpoint, **kw))


def own(model: type[Any], pk: int) -> Any:
    row = request_db().get(model, pk)
    if row is None or row.context_id != g.context.id:
        abort(404)
    return row
