"""Production jobs: RQ on Redis, run by separate `lti-tool worker` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.test_loop import setup_course
from tests.integration.test_outbox import cells, queue_all

pytestmark = pytest.mark.postgres


def test_two_worker_processes_post_each_score_once(live_server, database_url, redis_space) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    n = queue_all(rt, context_id, comp_id, 3.25)
    queue = redis_space.queue()
    queue.enqueue("drain", context_id)
    queue.enqueue("drain", context_id)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")},
        "LTI_TOOL_DATABASE_URL": database_url,
        **redis_space.env(),
        "LTI_TOOL_BASE_URL": live_server.tool_url,
        "LTI_TOOL_LOG_LEVEL": "WARNING",
    }
    exe = str(Path(sys.executable).with_name("lti-tool"))
    workers = [
        subprocess.Popen(
            [exe, "worker", "--burst"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    posted = cells(rt)
    assert len(posted) == n, outputs
    assert {c.posts for c in posted} == {1} and {c.score_given for c in posted} == {3.25}
    from lti_tool.models.grading import ScoreOutbox

    with rt.session_factory() as s:
        assert set(s.scalars(select(ScoreOutbox.state))) == {"posted"}
