"""The scheduled sync: stalest courses first, a bound per platform, one tick per interval
however many workers, and the next tick scheduled on RQ's scheduler."""

from __future__ import annotations

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from lti_tool.jobs.tasks import TASKS
from lti_tool.models.course import Context
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("settings_overrides", [{"sync_courses_per_platform": 1}])
def test_tick_starts_the_stalest_courses_within_the_bound(live_server, redis_space) -> None:
    rt = live_server.rt
    for slug in ("canvas", "moodle"):
        with rt.session_factory() as s:
            teacher = people(s, slug)["teacher"][0]
            course_id, link_id = course_and_link(s, slug)
        launch_as(Browser(), live_server.platform_url, slug, course_id, link_id, teacher.user_id)
    with rt.session_factory() as s:
        moodle = s.scalars(select(Context).order_by(Context.id)).all()[-1]
        # a second Moodle course: the bound lets one Moodle course sync per tick
        s.add(
            Context(
                registration_id=moodle.registration_id,
                deployment_id=moodle.deployment_id,
                id_on_platform="another-course",
                title="Another course",
                memberships_url=moodle.memberships_url,
            )
        )
        s.commit()
    rt.jobs = redis_space.queue()
    started = TASKS["tick"](rt)
    assert len(started) == 2  # one per platform
    queue = Queue(redis_space.prefix, connection=redis_space.client)
    names = [job.args[0] for job in queue.get_jobs()]
    assert names.count("sync_course") == 2 and "drain" in names
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1  # the next tick
    # a second worker's tick in the same interval does nothing
    assert TASKS["tick"](rt) == []
    assert len(queue.get_jobs()) == len(names)
