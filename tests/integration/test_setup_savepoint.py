"""The setup services' one savepoint: a refused change undoes only itself, and a change the
course takes is still the request's to commit or roll back (on SQLite too, whose driver opens
a transaction only at the first write)."""

from __future__ import annotations

import pytest

from lti_tool.models.mastery import Competency
from lti_tool.services.setup_tx import SetupRefused, refusing
from tests.integration.test_loop import setup_course


def test_a_refused_change_undoes_itself_and_keeps_what_came_before(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        s.get(Competency, comp_id).title = "Kept"  # the request wrote this before the change
        with pytest.raises(SetupRefused) as refused:
            with refusing(s, context_id, 0, "test", field="parent"):
                s.get(Competency, comp_id).parent_id = comp_id  # inside itself
        assert refused.value.field == "parent" and refused.value.message
        s.commit()
    with rt.session_factory() as s:
        comp = s.get(Competency, comp_id)
        assert comp.title == "Kept" and comp.parent_id is None


def test_a_taken_change_is_the_requests_to_roll_back(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        s.get(Competency, comp_id)  # a read first: no transaction yet on SQLite's driver
        with refusing(s, context_id, 0, "test"):
            s.get(Competency, comp_id).title = "Not kept"
        s.rollback()
    with rt.session_factory() as s:
        assert s.get(Competency, comp_id).title == "Equivalent fractions"
