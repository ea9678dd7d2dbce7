"""The embedded default (no Redis, jobs in the web process): a process killed while it held
scores leaves them leased; the next one to start posts them once the lease has run out."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lti_tool.jobs.tasks import resume_after_restart
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.types import utcnow
from tests.integration.test_loop import setup_course
from tests.integration.test_outbox import cells, queue_all

pytestmark = pytest.mark.postgres

LEASE = 3


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"passback_lease_seconds": LEASE}


def test_a_restarted_process_posts_what_a_killed_one_held(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    n = queue_all(rt, context_id, comp_id, 2.5)
    with rt.session_factory() as s:
        # the killed process had claimed every row a moment before it died
        s.execute(update(ScoreOutbox).values(claimed_until=utcnow() + timedelta(seconds=LEASE)))
        s.commit()
    started = time.monotonic()
    resume_after_restart(rt)
    first = last = None
    while time.monotonic() - started < 60:
        with rt.session_factory() as s:
            states = list(s.scalars(select(ScoreOutbox.state)))
        now = time.monotonic() - started
        if first is None and "posted" in states:
            first = now
        if all(state == "posted" for state in states):
            last = now
            break
        time.sleep(0.1)
    assert last is not None, "scores a killed process held were never posted"
    # nothing else drains them: the delayed drain did, once the dead process's lease ran out
    assert first is not None and first <= 2 * LEASE + 1, f"first score posted after {first:.1f} s"
    posted = cells(rt)
    assert len(posted) == n and {c.posts for c in posted} == {1}
