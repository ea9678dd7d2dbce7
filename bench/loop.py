"""The mastery loop at scale: from a batch of 1,000 new grades in the LMS to every changed
competency score posted back, for a 1,000-student course with 30 competencies.

    .venv/bin/python bench/loop.py [--students 1000] [--competencies 30]

Prints, for one worker, four workers, and four workers with 20% injected faults: the time to
read the grades and recompute (one sync), the time to post every changed score (RQ worker
processes), and the whole. Needs Redis (the workers' queue); uses PostgreSQL when reachable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox_world import sandbox_world  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from lti_tool.clients import ags  # noqa: E402
from lti_tool.clients.lti_services import caller_for  # noqa: E402
from lti_tool.jobs.grades import sync_course_grades  # noqa: E402
from lti_tool.models.course import Context, Membership, User  # noqa: E402
from lti_tool.models.grading import ScoreOutbox  # noqa: E402
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem  # noqa: E402
from lti_tool.models.types import utcnow  # noqa: E402
from lti_tool.sandbox.faults import set_faults  # noqa: E402
from lti_tool.sandbox.gradebook import set_grade  # noqa: E402
from lti_tool.sandbox.models import SandboxLineItem, SandboxUser  # noqa: E402
from lti_tool.services.roster import sync_roster  # noqa: E402
from tests.redis_space import RedisSpace, open_space, remove_space  # noqa: E402

# The run's keys and queue go under a prefix of their own and are removed at the end.
REDIS_URL = os.environ.get("LTI_TOOL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def setup(world, competencies: int) -> list[tuple[int, str]]:
    """Roster, competencies, one quiz column per competency aligned to it."""
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


def type_grades(world, students, competencies: int, points: float) -> None:
    """The LMS teacher enters one grade per student, spread over the columns."""
    with world.rt.session_factory() as s:
        columns = {
            int(li.label.split()[-1]): li.id
            for li in s.scalars(select(SandboxLineItem).where(SandboxLineItem.tag == "quiz"))
        }
        user_of = dict(s.execute(select(SandboxUser.lti_sub, SandboxUser.id)).all())
        for n, (_uid, sub) in enumerate(students):
            set_grade(s, columns[n % competencies], user_of[sub], points)
        s.commit()


def pending(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(
            select(func.count()).select_from(ScoreOutbox).where(ScoreOutbox.state == "pending")
        )


def post_all(world, workers: int, space: RedisSpace) -> None:
    exe = str(Path(sys.executable).with_name("lti-tool"))
    env = {**world.env, **space.env(), "LTI_TOOL_LOG_LEVEL": "ERROR"}
    queue = space.queue()
    while pending(world.rt):
        with world.rt.session_factory() as s:
            due = s.scalar(
                select(func.min(ScoreOutbox.next_attempt_at)).where(ScoreOutbox.state == "pending")
            )
        wait = (due - utcnow()).total_seconds() if due else 0
        if wait > 0:
            time.sleep(min(wait, 60))
        for _ in range(workers):
            queue.enqueue("drain", world.context_id)
        procs = [
            subprocess.Popen([exe, "worker", "--burst"], env=env, stdout=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        for p in procs:
            p.wait(600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--competencies", type=int, default=30)
    args = parser.parse_args()
    space = open_space(REDIS_URL, kind="bench")
    rows = []
    with sandbox_world(args.students, "canvas") as world:
        students = setup(world, args.competencies)
        for name, workers, faults, points in (
            ("1 worker", 1, 0.0, 6.0),
            ("4 workers", 4, 0.0, 8.0),
            ("4 workers, 20% faults", 4, 0.2, 4.0),
        ):
            type_grades(world, students, args.competencies, points)
            with world.rt.session_factory() as s:
                set_faults(
                    s, world.slug, error_rate=faults, kinds=["500", "429", "drop"], retry_after=1
                )
                s.commit()
            t0 = time.perf_counter()
            pull, recomputed = sync_course_grades(world.rt, world.context_id, post=False)
            t1 = time.perf_counter()
            post_all(world, workers, space)
            t2 = time.perf_counter()
            rows.append(
                (name, pull.changed + pull.added, recomputed.scores_queued, t1 - t0, t2 - t1)
            )
        with world.rt.session_factory() as s:
            set_faults(s, world.slug, error_rate=0.0, kinds=[], retry_after=1)
            s.commit()
    remove_space(space)
    print(
        f"\nMastery loop: {args.students} students x {args.competencies} competencies, "
        "one new grade each"
    )
    print(
        f"{'':<24}{'grades':>8}{'scores':>8}{'sync+recompute':>16}{'posting':>10}{'total':>9}{'posts/s':>9}"
    )
    for name, grades, scores, sync_s, post_s in rows:
        print(
            f"{name:<24}{grades:>8}{scores:>8}{sync_s:>14.2f} s{post_s:>8.2f} s"
            f"{sync_s + post_s:>7.2f} s{scores / post_s:>9.0f}"
        )


if __name__ == "__main__":
    main()
