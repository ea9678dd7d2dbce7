"""The class CSV opens safely in a spreadsheet: no cell, header or value, starts a formula
(OWASP's list: = + - @ tab, carriage return)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, update

from lti_tool.models.course import Context, User
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from tests.integration.test_class_view import _teacher_launch
from tests.integration.test_loop import setup_course

pytestmark = pytest.mark.postgres

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_no_cell_of_the_export_starts_a_formula(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        ctx = s.scalar(select(Context))
        s.add(Competency(context_id=ctx.id, code="=1+2", title="Sums", method={"method": "latest"}))
        s.add(
            Competency(context_id=ctx.id, code="@SUM(A1)", title="At", method={"method": "latest"})
        )
        s.add(Module(context_id=ctx.id, title='\t=HYPERLINK("http://x")', position=9))
        s.add(Module(context_id=ctx.id, title="+cmd", position=10))
        s.execute(update(User).where(User.name == "Ava Adams").values(name="\r=2*3"))
        s.execute(update(User).where(User.name == "Ben Brooks").values(name="-5+1"))
        s.commit()
    browser, base = _teacher_launch(live_server, "canvas")
    export = browser.get(f"{base}/class.csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text, newline="")))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(DANGEROUS)], rows[0]
    # the text is still there, shown as text
    assert "'=1+2 score" in rows[0] and "'@SUM(A1) level" in rows[0]
    assert '\'\t=HYPERLINK("http://x")' in rows[0] and "'+cmd" in rows[0]
    names = [r[0] for r in rows[1:]]
    assert "'\r=2*3" in names and "'-5+1" in names
    # plain numbers stay numbers (a negative score would be a number, not text)
    assert "Terry Teacher" not in names
