"""The alignments page: which module or gradebook column is evidence of which competency, and
with what weight."""

from __future__ import annotations

from typing import Any

from flask import g, request

from lti_tool.lti.roles import TEACHER
from lti_tool.services import setup_alignments as write
from lti_tool.services import setup_course as svc
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, render, saved


def _alignments_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    return render(
        "setup/alignments.html",
        status,
        comps=comps,
        parents={c.parent_id for c in comps if c.parent_id},
        mods=svc.modules(db, g.context.id),
        items=svc.line_items(db, g.context.id),
        current={write.key_of(a): a.weight for a in svc.alignments(db, g.context.id)},
        errors=kw.pop("errors", {}),
        **kw,
    )


@bp.get("/c/<launch_id>/setup/alignments")
@requires(TEACHER)
def alignments(launch_id: str) -> Page:
    return _alignments_page()


@bp.post("/c/<launch_id>/setup/alignments")
@requires(TEACHER)
def save_alignments(launch_id: str) -> Page:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    sources = [("m", m.id, m.title) for m in svc.modules(db, g.context.id)] + [
        ("li", li.id, li.label or li.url) for li in svc.line_items(db, g.context.id)
    ]
    wanted: dict[write.Key, float] = {}
    errors: dict[str, str] = {}
    for kind, sid, label in sources:
        for c in comps:
            name = f"{kind}-{sid}-{c.id}"
            if request.form.get(name) != "on":
                continue
            raw = (request.form.get(f"{name}.w") or "1").strip()
            try:
                weight = float(raw)
                if not 0 < weight <= 100:
                    raise ValueError
            except ValueError:
                errors[name] = (
                    f'Weight of "{c.title}" for "{label}": "{raw}" is not a number more than 0 '
                    "and at most 100."
                )
                continue
            wanted[((kind, sid), c.id)] = weight
    if errors:
        return _alignments_page(422, errors=errors)
    try:
        write.save_alignments(db, g.context.id, g.user.id, wanted)
    except SetupRefused as refused:
        return _alignments_page(422, errors={"form": refused.message})
    return saved(f"Saved {len(wanted)} alignments.", ".alignments")
