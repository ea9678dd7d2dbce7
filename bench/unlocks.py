"""Unlock columns at scale (issue 12): a course whose modules gate LMS content, and what their
"Unlocked: <title>" columns (1 open, 0 locked, one cell per student and module) cost in posts.

The rules read the competencies in groups of three: module k opens at "Mastery" of competency
k; the second module of each group at Mastery of either its own competency or the group's
first (`any`), the third at Mastery of both (`all`). A grade in a group's first competency
(C00, C03, ...) can so open or lock three modules at once.

1. Gating on: each student has one grade (Mastery in most cases) in one of the modules'
   columns; the teacher then ticks "Gate my LMS content with this" on every module, one save
   (and one recompute of the course) each. Every student's 0 or 1 for every module is queued,
   then posted by 4 workers.
2. One new grade per student, all in Quiz 00 (one column typed in the LMS), synced and posted
   by 1 worker (9 of 10: Mastery, modules open); then again by 4 workers (4 of 10: below
   Mastery, the re-evaluated rules lock them again).

Posts are counted by the sandbox LMS (each score it accepted; a double post counts twice) and
compared with what the rules say should change, worked out here without the tool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from loop_course import lms_posts, machine_facts, post_all, setup
from sandbox_world import sandbox_world
from sqlalchemy import func, select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.modules import Module
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
from lti_tool.services.setup_modules import ModuleValues, save_module
from tests.redis_space import RedisSpace

# A quiz is out of 10; 7.5 of 10 is 3.0 on the default 0-4 scale, its "Mastery" level.
MASTERY_POINTS = 7.5
# The quiz column (and competency) the teacher types in both rounds: a group's first.
TYPED = 0
GATING_WORKERS = 4


def rule_of(k: int) -> tuple[str, tuple[int, ...]]:
    """Module k's rule: its kind and the competencies (by number) it reads."""
    first = k - k % 3
    if k % 3 == 1:
        return "any", (k, first)
    if k % 3 == 2:
        return "all", (k, first)
    return "one", (k,)


def rule_doc(k: int) -> dict:
    """The same rule as the engine reads it."""
    kind, comps = rule_of(k)
    leaves = [{"competency": f"C{c:02}", "level": "Mastery"} for c in comps]
    return {"mode": "reevaluated", "rule": leaves[0] if kind == "one" else {kind: leaves}}


def is_open(k: int, grades: dict[int, float]) -> bool:
    """What module k's rule says for a student with these latest grades (column -> points)."""
    kind, comps = rule_of(k)
    held = [grades.get(c, 0.0) >= MASTERY_POINTS for c in comps]
    return any(held) if kind == "any" else all(held)


@dataclass
class Course:
    """The bench's own record of the course: every student's latest grade per column."""

    modules: list[int]  # module row ids, by k
    subs: list[str]  # the students' LMS ids, by n
    grades: list[dict[int, float]]  # by n: column -> points

    def opens(self) -> dict[tuple[str, int], bool]:
        """(student sub, module id) -> open, as the rules say."""
        return {
            (sub, module_id): is_open(k, self.grades[n])
            for n, sub in enumerate(self.subs)
            for k, module_id in enumerate(self.modules)
        }


def type_column(world, course: Course, column_of, points_of) -> int:
    """The LMS teacher types one grade per student, in `column_of(n)`; returns how many."""
    with world.rt.session_factory() as s:
        columns = {
            int(li.label.split()[-1]): li.id
            for li in s.scalars(select(SandboxLineItem).where(SandboxLineItem.tag == "quiz"))
        }
        user_of = dict(s.execute(select(SandboxUser.lti_sub, SandboxUser.id)).all())
        for n, sub in enumerate(course.subs):
            column, points = column_of(n), points_of(n)
            set_grade(s, columns[column], user_of[sub], points)
            course.grades[n][column] = points
        s.commit()
    return len(course.subs)


def cells_right(world, course: Course) -> tuple[int, int]:
    """(cells of the LMS's unlock columns holding what the rules say, cells expected)."""
    expected = course.opens()
    with world.rt.session_factory() as s:
        held = {
            (sub, int(rid.split(":")[1])): score
            for rid, sub, score in s.execute(
                select(SandboxLineItem.resource_id, SandboxUser.lti_sub, SandboxResult.score_given)
                .join(SandboxResult, SandboxResult.line_item_id == SandboxLineItem.id)
                .join(SandboxUser, SandboxUser.id == SandboxResult.user_id)
                .where(SandboxLineItem.tag == "unlock")
            )
        }
    right = sum(1 for key, open_ in expected.items() if held.get(key) == (1.0 if open_ else 0.0))
    return right, len(expected)


def add_modules(world, gated: int) -> list[int]:
    with world.rt.session_factory() as s:
        rows = [
            Module(
                context_id=world.context_id,
                title=f"Module {k:02}",
                position=k + 1,
                unlock_rule=rule_doc(k),
            )
            for k in range(gated)
        ]
        s.add_all(rows)
        s.commit()
        return [m.id for m in rows]


def gate_all(world, course: Course) -> None:
    """The teacher ticks "Gate my LMS content with this" on each module and saves it: one
    request, one transaction, one recompute of the course each."""
    for module_id in course.modules:
        with world.rt.session_factory() as s:
            m = s.get(Module, module_id)
            # the form as it stands, with the box ticked
            form = {f.name: getattr(m, f.name) for f in fields(ModuleValues)}
            values = ModuleValues(**{**form, "gates_lms": True})
            save_module(s, m, by=0, v=values)
            s.commit()


def queued_unlocks(world) -> tuple[int, int]:
    """(unlock scores waiting to be posted, of them ones)."""
    with world.rt.session_factory() as s:
        pending = (ScoreOutbox.module_id.is_not(None), ScoreOutbox.state == "pending")
        count = select(func.count()).select_from(ScoreOutbox).where(*pending)
        return s.scalar(count), s.scalar(count.where(ScoreOutbox.score_given == 1.0))


def flips(course: Course, column: int, points: float) -> int:
    """How many (student, module) cells change if every student gets `points` in `column`."""
    changed = 0
    for grades in course.grades:
        after = {**grades, column: points}
        changed += sum(
            1 for k in range(len(course.modules)) if is_open(k, grades) != is_open(k, after)
        )
    return changed


def gating_on(world, course: Course, space: RedisSpace) -> list[str]:
    """The teacher turns gating on for every module; every student's 0 or 1 is posted."""
    rt, gated = world.rt, len(course.modules)
    expected = course.opens()
    before = lms_posts(rt, "unlock"), lms_posts(rt, "competency")
    t0 = time.perf_counter()
    gate_all(world, course)
    t1 = time.perf_counter()
    queued, ones = queued_unlocks(world)
    post_all(world, GATING_WORKERS, space)
    t2 = time.perf_counter()
    posted = lms_posts(rt, "unlock") - before[0]
    competency_posts = lms_posts(rt, "competency") - before[1]
    right, cells = cells_right(world, course)
    return [
        f"gating on: {gated} module saves (a recompute of the course each) in {t1 - t0:.2f} s, "
        f"{(t1 - t0) / gated:.2f} s per save",
        f"gating on: {queued} unlock scores queued ({ones} ones, {queued - ones} zeros); "
        f"the rules say {len(expected)} ({sum(expected.values())} ones)",
        f"gating on, posting with {GATING_WORKERS} workers: {posted} posts in {t2 - t1:.2f} s, "
        f"{posted / (t2 - t1):.0f} posts/s (and {competency_posts} competency posts); "
        f"LMS unlock cells as the rules say: {right} of {cells}",
    ]


@dataclass
class Round:
    name: str
    points: float
    grades: int
    rules_say: int  # unlock cells the new grades change
    unlocks_queued: int
    scores_queued: int
    unlock_posts: int  # as the LMS counted them
    competency_posts: int
    sync_s: float
    post_s: float
    right: int  # LMS unlock cells as the rules say afterwards
    cells: int


def grade_round(
    world, course: Course, space: RedisSpace, name: str, workers: int, points: float
) -> Round:
    """Every student gets `points` in Quiz TYPED; one sync, then `workers` post."""
    rt = world.rt
    rules_say = flips(course, TYPED, points)
    grades = type_column(world, course, lambda n: TYPED, lambda n: points)
    before = lms_posts(rt, "unlock"), lms_posts(rt, "competency")
    t0 = time.perf_counter()
    _pull, recomputed = sync_course_grades(rt, world.context_id, post=False)
    t1 = time.perf_counter()
    post_all(world, workers, space)
    t2 = time.perf_counter()
    right, cells = cells_right(world, course)
    return Round(
        name,
        points,
        grades,
        rules_say,
        recomputed.unlocks_queued,
        recomputed.scores_queued,
        lms_posts(rt, "unlock") - before[0],
        lms_posts(rt, "competency") - before[1],
        t1 - t0,
        t2 - t1,
        right,
        cells,
    )


def run(
    students_n: int, competencies: int, gated: int, space: RedisSpace
) -> tuple[list[str], list[str]]:
    """(machine facts, report lines) of the unlock-column scenario, in a course of its own."""
    kinds = [rule_of(k)[0] for k in range(gated)]
    reach = sum(TYPED in rule_of(k)[1] for k in range(gated))
    lines = [
        "",
        f"Unlock columns: {students_n} students x {gated} gated modules "
        f"({competencies} competencies); rules: {kinds.count('one')} on one competency, "
        f"{kinds.count('any')} any of two, {kinds.count('all')} all of two "
        f"(a grade in Quiz {TYPED:02} can change {reach} modules)",
    ]
    with sandbox_world(students_n, "canvas", server_env=space.env()) as world:
        facts = machine_facts(world, space)
        rt = world.rt
        students = setup(world, competencies)
        course = Course(
            add_modules(world, gated), [sub for _uid, sub in students], [{} for _ in students]
        )

        # Before gating: one grade each (4 of 10 for every seventh student), posted.
        grades = type_column(world, course, lambda n: n % gated, lambda n: 8.0 if n % 7 else 4.0)
        t0 = time.perf_counter()
        sync_course_grades(rt, world.context_id, post=False)
        post_all(world, GATING_WORKERS, space)
        lines.append(
            f"before gating: {grades} grades synced and their competency scores posted in "
            f"{time.perf_counter() - t0:.2f} s ({GATING_WORKERS} workers)"
        )

        lines += gating_on(world, course, space)

        # 2. One new grade per student, all in one column.
        rounds = [
            grade_round(world, course, space, name, workers, points)
            for name, workers, points in (("1 worker", 1, 9.0), ("4 workers", 4, 4.0))
        ]
    lines += [
        "",
        f"One new grade per student in Quiz {TYPED:02} (one column typed in the LMS), synced and "
        "posted; posts counted by the LMS",
        f"{'':<12}{'points':>7}{'grades':>7}{'unlock':>8}{'rules':>7}{'competency':>11}"
        f"{'posts/student':>14}{'sync+recompute':>16}{'posting':>9}{'total':>9}{'posts/s':>9}",
    ]
    for r in rounds:
        posts = r.unlock_posts + r.competency_posts
        lines.append(
            f"{r.name:<12}{r.points:>7g}{r.grades:>7}{r.unlock_posts:>8}{r.rules_say:>7}"
            f"{r.competency_posts:>11}{posts / r.grades:>14.2f}{r.sync_s:>14.2f} s"
            f"{r.post_s:>7.2f} s{r.sync_s + r.post_s:>7.2f} s{posts / r.post_s:>9.0f}"
        )
    for r in rounds:
        lines.append(
            f"{r.name}: the recompute queued {r.unlocks_queued} unlock scores of "
            f"{r.scores_queued}; the rules change {r.rules_say} unlock cells, the LMS got "
            f"{r.unlock_posts} unlock posts; LMS unlock cells as the rules say: "
            f"{r.right} of {r.cells}"
        )
    return facts, lines
