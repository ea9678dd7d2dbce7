"""Multi-process truth: two web app instances and two RQ worker processes against one
PostgreSQL and one Redis give exactly what one process would: one evidence row per grade, one
audit entry per change, one post per changed score, each at its value."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from lti_tool.models.course import User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Evidence, MasteryState, UnlockState
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
from tests.conftest import free_port, make_app
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import Browser, course_and_link, forms, launch_as, people, synced_or_started
from tests.processes import start_worker, stop_workers

pytestmark = pytest.mark.postgres
GRADES = [10, 9, 8, 7.5, 7, 6, 5, 4, 3, 2]  # of 10: Mastery from 7.5 up (3 of 4)


@pytest.fixture
def settings_overrides(redis_space) -> dict[str, object]:
    return {**redis_space.settings(), "secret_key": "m" * 40}


def test_two_web_processes_and_two_workers_agree_with_one(
    live_server,
    database_url,
    redis_space,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("processes on one database: run on PostgreSQL, as in production")
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        students = people(s, "canvas")["student"][: len(GRADES)]
        teacher = people(s, "canvas")["teacher"][0]
        course_id, link_id = course_and_link(s, "canvas")
    for person, points in zip(students, GRADES, strict=True):
        type_grade(live_server, "canvas", person.name, points)

    # the second web process: same database, same Redis, same secret, its own port
    port = free_port()
    second = make_app(database_url, port, **redis_space.settings(), secret_key="m" * 40)
    server = make_server("127.0.0.1", port, second, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    workers = [
        start_worker(database_url, redis_space.env(), live_server.tool_url) for _ in range(2)
    ]
    try:
        browser = Browser()
        page = launch_as(
            browser, live_server.platform_url, "canvas", course_id, link_id, teacher.user_id
        )
        base_first = page.url.rsplit("/", 1)[0]
        base_second = base_first.replace(live_server.tool_url, f"http://127.0.0.1:{port}")
        class_page = browser.get(f"{base_first}/class")
        sync = next(f for f in forms(class_page.text) if f["action"].endswith("/class/sync"))
        answers: list[str] = []

        def press(base: str) -> None:
            answers.append(browser.post(f"{base}/class/sync", sync["fields"]).text)

        # the teacher's "Sync now" reaches both web processes at once
        presses = [threading.Thread(target=press, args=(b,)) for b in (base_first, base_second)]
        for t in presses:
            t.start()
        for t in presses:
            t.join(60)
        # each press starts a sync job, which the workers run
        assert len(answers) == 2 and all(synced_or_started(a) for a in answers), answers

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with rt.session_factory() as s:
                waiting = s.scalar(
                    select(func.count())
                    .select_from(ScoreOutbox)
                    .where(ScoreOutbox.state != "posted")
                )
                total = s.scalar(select(func.count()).select_from(ScoreOutbox))
            synced = "Synced" in browser.get(f"{base_first}/class").text
            if total == len(GRADES) and waiting == 0 and synced:
                break
            time.sleep(0.3)
        assert synced  # the class page shows what the sync job came to
    finally:
        stop_workers(workers)
        server.shutdown()
        second.extensions["lti_tool"].engine.dispose()

    expected = {p.name: points / 10 * 4 for p, points in zip(students, GRADES, strict=True)}
    with rt.session_factory() as s:
        ids = dict(s.execute(select(User.name, User.id).where(User.name.in_(expected))).all())
        assert s.scalar(select(func.count()).select_from(Evidence)) == len(GRADES)
        scores = dict(
            s.execute(
                select(MasteryState.user_id, MasteryState.score).where(
                    MasteryState.user_id.in_(ids.values())
                )
            ).all()
        )
        assert {n: pytest.approx(scores[ids[n]]) for n in expected} == expected
        # one audit entry per change, as one process writes them
        audit = s.scalars(select(AuditEntry).where(AuditEntry.kind == "mastery")).all()
        assert sorted(a.user_id for a in audit) == sorted(ids.values())
        mastered = {n for n, v in expected.items() if v >= 3}
        unlocked = s.scalars(
            select(UnlockState.user_id).where(UnlockState.status == "unlocked")
        ).all()
        assert sorted(unlocked) == sorted(ids[n] for n in mastered)
        unlock_audit = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "unlock")
        )
        assert unlock_audit == len(mastered)
        # each score in the LMS gradebook once, at its value
        column = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        assert column is not None
        in_lms = {
            f"{given} {family}": (score, posts)
            for given, family, score, posts in s.execute(
                select(
                    SandboxUser.given_name,
                    SandboxUser.family_name,
                    SandboxResult.score_given,
                    SandboxResult.posts,
                )
                .join(SandboxResult, SandboxResult.user_id == SandboxUser.id)
                .where(SandboxResult.line_item_id == column.id)
            )
        }
        assert {n: v[1] for n, v in in_lms.items()} == {n: 1 for n in expected}, "no double posts"
        assert {n: pytest.approx(v[0]) for n, v in in_lms.items()} == expected
