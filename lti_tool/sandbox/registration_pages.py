"""The sandbox admin's side of Dynamic Registration: the tools page where a tool's registration
URL is pasted, the frame that opens it with `openid_configuration` and `registration_token`
and listens for the tool's close message, and Moodle's "Activate" for a pending tool."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from lti_tool.sandbox.csrf import form_refused
from lti_tool.sandbox.models import SandboxCourse, SandboxLink, SandboxPlatform, SandboxTool
from lti_tool.sandbox.pages import failure, platform_or_404
from lti_tool.sandbox.registration_shapes import new_token, paths_of, urls_of
from lti_tool.sandbox.services import current_sandbox

bp = Blueprint("dynreg", __name__)


def _tools(platform: SandboxPlatform) -> list[SandboxTool]:
    return list(
        current_sandbox()
        .db()
        .scalars(
            select(SandboxTool)
            .where(SandboxTool.platform_id == platform.id)
            .order_by(SandboxTool.id)
        )
    )


@bp.get("/<slug>/admin/tools")
def admin(slug: str) -> str:
    platform = platform_or_404(slug)
    return render_template(
        "sandbox/registration_admin.html",
        platform=platform,
        tools=_tools(platform),
        done=request.args.get("done", ""),
    )


@bp.post("/<slug>/admin/tools/register")
def start(slug: str) -> Any:
    """Open the tool's registration URL in a frame, as Moodle's "Add LTI Advantage" and
    Canvas' "LTI Registration" do."""
    platform = platform_or_404(slug)
    problem = form_refused()
    if problem:
        return failure(400, problem)
    tool_url = request.form.get("url", "").strip()
    parts = urlsplit(tool_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return failure(400, f"Not a tool registration URL: {tool_url!r}")
    token = new_token(platform, older_flow=bool(request.form.get("older_flow")))
    config_url = urls_of(platform).base + paths_of(platform)["config"]
    if platform.shape == "canvas":
        config_url += "?" + urlencode({"registration_token": token})
    query = parts.query + ("&" if parts.query else "")
    query += urlencode({"openid_configuration": config_url, "registration_token": token})
    frame_src = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return render_template(
        "sandbox/registration_frame.html",
        platform=platform,
        frame_src=frame_src,
        tool_origin=f"{parts.scheme}://{parts.netloc}",
    )


@bp.post("/<slug>/admin/tools/<int:tool_id>/activate")
def activate(slug: str, tool_id: int) -> Any:
    platform = platform_or_404(slug)
    problem = form_refused()
    if problem:
        return failure(400, problem)
    tool = current_sandbox().db().get(SandboxTool, tool_id)
    if tool is None or tool.platform_id != platform.id:
        abort(404)
    if tool.state != "active":
        tool.state = "active"
        place_tool(tool)
    return redirect(url_for(".admin", slug=slug, done=f"{tool.name} is active."), 303)


def place_tool(tool: SandboxTool) -> None:
    """A teacher adds the new tool to each course (one link each), so it can be launched."""
    db = current_sandbox().db()
    canvas = db.get(SandboxPlatform, tool.platform_id).shape == "canvas"  # type: ignore[union-attr]
    for course in db.scalars(
        select(SandboxCourse).where(SandboxCourse.platform_id == tool.platform_id)
    ):
        db.add(
            SandboxLink(
                course_id=course.id,
                tool_id=tool.id,
                lti_id=str(uuid.uuid4()) if canvas else f"dynreg-{tool.id}",
                title=f"{tool.name} (registered by URL)",
            )
        )
    db.flush()


# -- what the tool calls ---------------------------------------------------------------------
