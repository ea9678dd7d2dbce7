"""The mastery loop at scale: from a batch of 1,000 new grades in the LMS to every changed
competency score posted back, for a 1,000-student course with 30 competencies; and the same
course with 20 modules gating LMS content, whose unlock columns a grade change also posts to
(unlocks.py).

    .venv/bin/python bench/loop.py [--students 1000] [--competencies 30] [--gated-modules 20]
                                   [--scenario all|loop|unlocks]

Prints a header with the machine's facts, then, for one worker, four workers, and four
workers with 20% injected faults: the time to read the grades and recompute (one sync), the
time to post every changed score (RQ worker processes), and the whole; then the unlock
columns' figures (see unlocks.py; `--gated-modules 0` leaves them out). Needs Redis (the
workers' queue); uses PostgreSQL when reachable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import unlocks  # noqa: E402
from loop_course import REDIS_URL, machine_facts, post_all, setup  # noqa: E402
from sandbox_world import sandbox_world  # noqa: E402
from sqlalchemy import select  # noqa: E402

from lti_tool.jobs.grades import sync_course_grades  # noqa: E402
from lti_tool.sandbox.faults import set_faults  # noqa: E402
from lti_tool.sandbox.gradebook import set_grade  # noqa: E402
from lti_tool.sandbox.models import SandboxLineItem, SandboxUser  # noqa: E402
from tests.redis_space import RedisSpace, open_space, remove_space  # noqa: E402


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


def competency_loop(
    students_n: int, competencies: int, space: RedisSpace
) -> tuple[list[str], list[str]]:
    """(machine facts, report lines) of the competency-score scenario."""
    rows = []
    with sandbox_world(students_n, "canvas", server_env=space.env()) as world:
        facts = machine_facts(world, space)
        students = setup(world, competencies)
        for name, workers, faults, points in (
            ("1 worker", 1, 0.0, 6.0),
            ("4 workers", 4, 0.0, 8.0),
            ("4 workers, 20% faults", 4, 0.2, 4.0),
        ):
            type_grades(world, students, competencies, points)
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
    lines = [
        "",
        f"Mastery loop: {students_n} students x {competencies} competencies, one new grade each",
        f"{'':<24}{'grades':>8}{'scores':>8}{'sync+recompute':>16}{'posting':>10}{'total':>9}"
        f"{'posts/s':>9}",
    ]
    for name, grades, scores, sync_s, post_s in rows:
        lines.append(
            f"{name:<24}{grades:>8}{scores:>8}{sync_s:>14.2f} s{post_s:>8.2f} s"
            f"{sync_s + post_s:>7.2f} s{scores / post_s:>9.0f}"
        )
    return facts, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--competencies", type=int, default=30)
    parser.add_argument(
        "--gated-modules",
        type=int,
        default=20,
        help="modules gating LMS content in the unlock scenario (0: leave it out)",
    )
    parser.add_argument(
        "--scenario",
        choices=("all", "loop", "unlocks"),
        default="all",
        help="loop: competency scores only; unlocks: the gated modules only",
    )
    args = parser.parse_args()
    if args.gated_modules > args.competencies:
        parser.error("each gated module's rule reads its own competency: at most --competencies")
    runs = []
    if args.scenario in ("all", "loop"):
        runs.append(lambda: competency_loop(args.students, args.competencies, space))
    if args.scenario in ("all", "unlocks") and args.gated_modules:
        runs.append(
            lambda: unlocks.run(args.students, args.competencies, args.gated_modules, space)
        )
    space = open_space(REDIS_URL, kind="bench")
    try:
        for i, run in enumerate(runs):
            facts, lines = run()
            if i == 0:
                print("\n" + "\n".join(facts))
            print("\n".join(lines), flush=True)
    finally:
        remove_space(space)


if __name__ == "__main__":
    main()
