"""The setup page that tells a teacher how to gate their LMS's own content on the tool's
columns, and the course-total warning's "I have done this"."""

from __future__ import annotations

from flask import g, redirect, request, url_for

from lti_tool.lti.roles import TEACHER
from lti_tool.services.lms_gating import guidance, keep_out_of_total
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, render, saved

# Where "I have done this" returns: the page the warning was on.
BACK = {"setup": "setup.index", "lms": "setup.lms_gating"}


@bp.get("/c/<launch_id>/setup/lms")
@requires(TEACHER)
def lms_gating(launch_id: str) -> Page:
    return render("setup/lms_gating.html", guide=guidance(request_db(), g.context), back="lms")


@bp.post("/c/<launch_id>/setup/lms/out-of-total")
@requires(TEACHER)
def out_of_total(launch_id: str) -> Page:
    count = keep_out_of_total(request_db(), g.context)
    message = (
        f"Noted: the {count} column{' is' if count == 1 else 's are'} out of your course "
        "total. The warning comes back if the tool makes another."
    )
    back = request.form.get("back", "")
    if back == "class":
        return redirect(url_for("classview.index", launch_id=launch_id, notice=message))
    return saved(message, BACK.get(back, "setup.lms_gating"))
