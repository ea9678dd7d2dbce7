"""The setup overview: what the course has so far and where to click next."""

from __future__ import annotations

from flask import g

from lti_tool.lti.roles import TEACHER
from lti_tool.services import setup_course as svc
from lti_tool.services.lms_gating import counting_columns, platform_family
from lti_tool.services.setup_methods import course_default_method, method_label
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, render


@bp.get("/c/<launch_id>/setup")
@requires(TEACHER)
def index(launch_id: str) -> Page:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    mods = svc.modules(db, g.context.id)
    links = svc.alignments(db, g.context.id)
    ruled = sum(1 for m in mods if m.unlock_rule and m.unlock_rule.get("rule") is not None)
    return render(
        "setup/index.html",
        comps=comps,
        mods=mods,
        aligned=len(links),
        ruled=ruled,
        default_method=method_label(course_default_method(comps)),
        platform=platform_family(db, g.binding.registration_id),
        counting=counting_columns(db, g.context),
    )
