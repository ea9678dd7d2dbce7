"""What the loop benchmarks share (loop.py, unlocks.py): the course (a roster, competencies,
one quiz column aligned to each), posting the score outbox with RQ worker processes, and the
facts of the machine the figures were measured on."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text

from lti_tool.clients import ags
from lti_tool.clients.lti_services import caller_for
from lti_tool.grading.outbox import next_ready
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.course import Context, Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem
from lti_tool.models.types import utcnow
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult
from lti_tool.services.roster import sync_roster
from tests.redis_space import RedisSpace

# The run's keys and queue go under a prefix of their own and are removed at the end.
REDIS_URL = os.environ.get("LTI_TOOL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def setup(world, competencies: int) -> list[tuple[int, str]]:
    """Roster, competencies, one quiz column per competency aligned to it; the students'
    (user id, sub)."""
    rt = world.rt
    with rt.session_factory() as s:
        ctx = s.get(Context, world.context_id)
        caller = caller_for(s, ctx, rt.platform_http, rt.tokens)
        sync_roster(s, caller, ctx, 50)
        s.commit()
        for k in range(competencies):
            s.add(
                Competency(
                    context_id=ctx.id,
                    code=f"C{k:02}",
                    title=f"Competency {k:02}",
                    method={"method": "latest"},
                )
            )
            ags.create_lineitem(
                caller,
                ctx.lineitems_url,
                {
                    "label": f"Quiz {k:02}",
                    "scoreMaximum": 10,
                    "resourceId": f"quiz-{k}",
                    "tag": "quiz",
                },
            )
        s.commit()
    sync_course_grades(rt, world.context_id, post=False)  # learns the columns
    with rt.session_factory() as s:
        comps = {c.code: c.id for c in s.scalars(select(Competency))}
        for li in s.scalars(select(CourseLineItem)):
            k = int(li.label.split()[-1])
            s.add(
                Alignment(
                    context_id=world.context_id, competency_id=comps[f"C{k:02}"], line_item_id=li.id
                )
            )
        s.commit()
        students = s.execute(
            select(User.id, User.sub)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.context_id == world.context_id, Membership.role == "student")
            .order_by(User.id)
        ).all()
    return [(uid, sub) for uid, sub in students]


def pending(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(
            select(func.count()).select_from(ScoreOutbox).where(ScoreOutbox.state == "pending")
        )


def post_all(world, workers: int, space: RedisSpace) -> None:
    """Post every pending score with `workers` worker processes, each draining the outbox
    until it is empty (rows waiting out a retry or another worker's lease are waited for)."""
    exe = str(Path(sys.executable).with_name("lti-tool"))
    env = {**world.env, **space.env(), "LTI_TOOL_LOG_LEVEL": "ERROR"}
    queue = space.queue()
    while pending(world.rt):
        with world.rt.session_factory() as s:
            due = next_ready(s, world.context_id)
        wait = (due - utcnow()).total_seconds() if due else 0
        if wait > 0:
            time.sleep(min(wait, 60))
        for _ in range(workers):
            queue.enqueue("drain", world.context_id)
        run_workers([exe, "worker", "--burst"], env, workers)


def run_workers(command: list[str], env: dict[str, str], count: int) -> None:
    """`count` processes of `command`, waited for (a drain of 20,000 scores on a busy machine
    takes more than ten minutes: no time limit but RQ's own job timeout). Each runs in a
    process group of its own, killed whole if the bench stops early, so no worker or the
    work horse it forked outlives the run and goes on posting."""
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        for _ in range(count)
    ]
    try:
        for p in procs:
            p.wait()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def lms_posts(rt, tag: str) -> int:
    """Scores the sandbox LMS accepted so far in its columns tagged `tag`, every post counted
    (a double post counts twice)."""
    with rt.session_factory() as s:
        return s.scalar(
            select(func.coalesce(func.sum(SandboxResult.posts), 0))
            .join(SandboxLineItem, SandboxLineItem.id == SandboxResult.line_item_id)
            .where(SandboxLineItem.tag == tag)
        )


def worker_start(world, space: RedisSpace) -> float:
    """Seconds a worker process takes to start, find its queue empty, and stop: part of each
    posting time below, which starts the workers."""
    exe = str(Path(sys.executable).with_name("lti-tool"))
    env = {**world.env, **space.env(), "LTI_TOOL_LOG_LEVEL": "ERROR"}
    t0 = time.perf_counter()
    subprocess.run([exe, "worker", "--burst"], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def machine_facts(world, space: RedisSpace) -> list[str]:
    """The report's header: what the figures were measured on."""
    with world.rt.session_factory() as s:
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            version = s.scalar(text("SHOW server_version"))
            database = f"PostgreSQL {version} (a scratch database on 127.0.0.1)"
        else:
            database = f"SQLite {s.scalar(text('select sqlite_version()'))} (no PostgreSQL)"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, load average at start {load}",
        f"Database: {database}",
        "LMS: the sandbox on gunicorn (4 gthread workers x 4 threads) on this machine; "
        "posts by RQ worker processes (lti-tool worker --burst) on Redis",
        f"A worker process starts, finds no job and stops in {worker_start(world, space):.2f} s "
        "(included in each posting time)",
    ]
