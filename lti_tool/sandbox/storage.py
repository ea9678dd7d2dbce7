"""LTI platform storage as Canvas offers it (shared/platforms/platform-storage.md): the hidden
`post_message_forwarding` frame, served from the auth origin, keeps each tool's keys in its
localStorage (500 keys, 4,096 characters of key + value per tool) and answers only tools'
origins; the course page answers `lti.capabilities`. The Moodle shape has none of it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from lti_tool.lti.message import origin
from lti_tool.sandbox.models import SandboxTool
from lti_tool.sandbox.pages import platform_or_404
from lti_tool.sandbox.services import current_sandbox

FRAME_NAME = "post_message_forwarding"
MAX_KEYS = 500
MAX_CHARS = 4096

bp = Blueprint("storage", __name__)


def tool_origins(platform_id: int) -> list[str]:
    """Origins the platform's tools launch from: the only senders the storage answers."""
    rows = (
        current_sandbox()
        .db()
        .execute(
            select(SandboxTool.login_url, SandboxTool.redirect_uris).where(
                SandboxTool.platform_id == platform_id
            )
        )
    )
    found = set()
    for login_url, redirect_uris in rows:
        found.update(o for o in map(origin, [login_url, *(redirect_uris or [])]) if o)
    return sorted(found)


@bp.get(f"/<slug>/{FRAME_NAME}")
def forwarding_frame(slug: str) -> str:
    platform = platform_or_404(slug)
    if platform.shape != "canvas":
        abort(404)
    return render_template(
        "sandbox/post_message_forwarding.html",
        origins=tool_origins(platform.id),
        max_keys=MAX_KEYS,
        max_chars=MAX_CHARS,
    )
