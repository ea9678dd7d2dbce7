"""A course's recompute and the student's path on PostgreSQL (a script, not a test).

    .venv/bin/python bench/engine.py [--students 30,1000,5000] [--runs 40]

For each class size, a course of 30 competencies, 150 gradebook columns (5 per competency,
aligned) and 100 modules with rules (30 % sticky, 10 gating LMS content), 5 evidence rows per
student and competency (1,000 students: 150,000 rows), seeded into a database of its own;
then, each beside a baseline measured in the same run:
  * the course model: built from its rows (what every request paid before) and read from the
    cache (a version check);
  * a full recompute split in its parts: facts loading (SQL to engine facts; baseline: the
    same rows fetched bare by the driver), evaluation, and the rest (stored states read,
    changes written, commit), first with every state new, then again with nothing changed,
    then after a sync brought one more grade per student and competency; each with the CPU
    time of the Python process and of its PostgreSQL backend (on a loaded machine the wall
    time is mostly waiting for a core);
  * one new grade: the incremental recompute of that student, committed;
  * the student path (student_path, the path page's view, a fresh session each time as a
    request has): p50/p95; and the profile's fuller view (student_view) beside it
    with the cached model, beside the same with the model rebuilt each time, and its SQL
    statements.
The pure engine in memory is `bench/engine_pure.py`. Targets (issue 13): recompute of 1,000
students <= 5 s, one new grade <= 50 ms, the student path <= 20 ms at p95.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scratch_db  # noqa: E402
from sqlalchemy import event, insert, select, text  # noqa: E402

from lti_tool import mastery, migrate  # noqa: E402
from lti_tool.db import make_engine, make_session_factory  # noqa: E402
from lti_tool.models.course import Context, Membership, User  # noqa: E402
from lti_tool.models.mastery import (  # noqa: E402
    Alignment,
    Competency,
    CourseLineItem,
    Evidence,
)
from lti_tool.models.modules import Module  # noqa: E402
from lti_tool.models.platform import Deployment, Registration  # noqa: E402
from lti_tool.services.course_model import (  # noqa: E402
    build_model,
    course_model,
    course_students,
    load_facts,
    model_cache,
)
from lti_tool.services.recompute import recompute_course  # noqa: E402
from lti_tool.services.student_view import student_path, student_view  # noqa: E402

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
BARE_SQL = (
    "SELECT id, user_id, competency_id, raw_score, raw_maximum, graded_at, submitted_at, "
    "line_item_id FROM evidence WHERE context_id = %s AND withdrawn_at IS NULL"
)
NOW = T0 + timedelta(days=90)
COMPETENCIES, COLUMNS_PER, MODULES, EVIDENCE_PER = 30, 5, 100, 5
LEVELS = ["Near Mastery", "Mastery", "Exceeds Mastery"]
METHODS = [
    {"method": "decaying_average", "w": 0.65},
    {"method": "latest"},
    {"method": "highest"},
    {"method": "average"},
]


def seed(factory, size: int, rnd: random.Random) -> int:
    """A course of `size` students, written with bulk inserts and COPY; its context id."""
    with factory() as s:
        reg = Registration(
            issuer=f"https://lms.example/{size}",
            client_id="bench",
            auth_login_url="https://lms.example/auth",
            auth_token_url="https://lms.example/token",
            key_set_url="https://lms.example/jwks",
        )
        s.add(reg)
        s.flush()
        dep = Deployment(registration_id=reg.id, deployment_id="1", allowed=True)
        ctx = Context(registration_id=reg.id, deployment_id=0, id_on_platform=f"course-{size}")
        s.add(dep)
        s.flush()
        ctx.deployment_id = dep.id
        s.add(ctx)
        s.flush()
        cid = ctx.id
        users = s.scalars(
            insert(User).returning(User.id),
            [
                {"registration_id": reg.id, "sub": f"s{i}", "name": f"Student {i:05}"}
                for i in range(size)
            ],
        ).all()
        s.execute(
            insert(Membership),
            [{"context_id": cid, "user_id": u, "role": "student"} for u in users],
        )
        comps = s.scalars(
            insert(Competency).returning(Competency.id),
            [
                {
                    "context_id": cid,
                    "code": f"C{k:02}",
                    "title": f"Competency {k:02}",
                    "method": METHODS[k % len(METHODS)],
                    "position": k,
                }
                for k in range(COMPETENCIES)
            ],
        ).all()
        columns = s.scalars(
            insert(CourseLineItem).returning(CourseLineItem.id),
            [
                {
                    "context_id": cid,
                    "url": f"https://lms.example/{size}/li/{k}",
                    "url_hash": f"{size}-{k}",
                    "label": f"Quiz {k}",
                    "score_maximum": 10.0,
                }
                for k in range(COMPETENCIES * COLUMNS_PER)
            ],
        ).all()
        s.execute(
            insert(Alignment),
            [
                {"context_id": cid, "competency_id": comps[k // COLUMNS_PER], "line_item_id": li}
                for k, li in enumerate(columns)
            ],
        )
        module_ids: list[int] = []
        for i in range(MODULES):
            m = Module(
                context_id=cid,
                title=f"Module {i}",
                position=i,
                unlock_rule=rule(rnd, i, module_ids, columns),
                sticky=rnd.random() < 0.3,
                gates_lms=i % 10 == 5,
            )
            s.add(m)
            s.flush()
            module_ids.append(m.id)
        s.execute(
            insert(Alignment),
            [
                {"context_id": cid, "competency_id": rnd.choice(comps), "module_id": m}
                for m in module_ids
            ],
        )
        s.commit()
    with factory() as s:
        raw = s.connection().connection.dbapi_connection
        cols = "context_id, user_id, competency_id, source, source_key, line_item_id, "
        cols += "raw_score, raw_maximum, graded_at, updated_at, note"
        with raw.cursor() as cur, cur.copy(f"COPY evidence ({cols}) FROM STDIN") as copy:
            for u in users:
                skill = rnd.random()
                for k, comp in enumerate(comps):
                    for j in range(EVIDENCE_PER):
                        li = columns[k * COLUMNS_PER + j]
                        points = min(10, max(0, round(rnd.gauss(4 + 5 * skill + j * 0.3, 2))))
                        when = T0 + timedelta(days=j * 7, minutes=rnd.randrange(600))
                        copy.write_row(
                            (cid, u, comp, "ags", f"li{li}", li, points, 10.0, when, when, "")
                        )
        raw.commit()
    return cid


def add_grade_for_everyone(factory, cid: int, rnd: random.Random) -> None:
    """A grade sync that brought one more grade per student and competency (a new quiz in
    every competency's column set): most scores move, and with them levels, unlocks and the
    scores queued for the gradebook. Written by COPY, outside the timed recompute."""
    with factory() as s:
        comps = list(s.scalars(select(Competency.id).where(Competency.context_id == cid)))
        users = list(s.scalars(select(Membership.user_id).where(Membership.context_id == cid)))
        raw = s.connection().connection.dbapi_connection
        cols = "context_id, user_id, competency_id, source, source_key, "
        cols += "raw_score, raw_maximum, graded_at, updated_at, note"
        when = NOW + timedelta(hours=12)
        with raw.cursor() as cur, cur.copy(f"COPY evidence ({cols}) FROM STDIN") as copy:
            for u in users:
                for comp in comps:
                    points = rnd.randrange(11)
                    copy.write_row((cid, u, comp, "rating", "extra", points, 10.0, when, when, ""))
        raw.commit()


def server_cpu(pid: int) -> float | None:
    """CPU seconds a PostgreSQL backend on this machine has used (None elsewhere): with the
    Python process's own, what a run costs apart from waiting on a loaded machine."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rule(rnd: random.Random, i: int, modules: list[int], columns: list[int]) -> dict | None:
    """An unlock rule for module i: competencies, earlier modules and columns."""
    if i == 0:
        return None

    def leaf() -> dict:
        kind = rnd.random()
        if kind < 0.5 or not modules:
            code = f"C{rnd.randrange(COMPETENCIES):02}"
            return {"competency": code, "level": rnd.choice(LEVELS)}
        if kind < 0.8:
            return {"module_completed": str(rnd.choice(modules[-10:]))}
        return {"line_item": str(rnd.choice(columns)), "percent": rnd.choice([60, 70, 80])}

    shape = rnd.random()
    if shape < 0.5:
        body: dict = {"all": [leaf(), leaf()]}
    elif shape < 0.75:
        body = {"any": [leaf(), {"all": [leaf(), leaf()]}]}
    else:
        body = {"at_least": {"k": 2, "of": [leaf(), leaf(), leaf()]}}
    return {"rule": body}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def runs_ms(fn: Callable[[], object], runs: int) -> list[float]:
    return [timed(fn)[0] for _ in range(runs)]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}×" if b > 0 else "   n/a"


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "OVER"


def bench_size(engine, factory, size: int, runs: int, rnd: random.Random) -> None:
    t = time.perf_counter()
    cid = seed(factory, size, rnd)
    seeded_s = time.perf_counter() - t
    with factory() as s:
        n_evidence = len(s.execute(select(Evidence.id).where(Evidence.context_id == cid)).all())
    print(
        f"\n{size:,} students × {COMPETENCIES} competencies × {MODULES} modules, "
        f"{n_evidence:,} evidence rows (seeded in {seeded_s:.1f} s)"
    )

    # the course model: built (every request before this change) and read from the cache
    with factory() as s:
        build = runs_ms(lambda: build_model(s, cid), 5)
        course_model(s, cid)
        cached = runs_ms(lambda: course_model(s, cid), 20)
    print(
        f"  course model   built {statistics.median(build):8.2f} ms   "
        f"cached (version check) {statistics.median(cached):6.2f} ms   "
        f"cached/built {ratio(statistics.median(cached), statistics.median(build))}"
    )

    # a full recompute in its parts
    with factory() as s:
        snapshot = replace(course_model(s, cid), students=course_students(s, cid))
        raw = s.connection().connection.dbapi_connection

        def bare_fetch() -> object:
            # the floor: the evidence columns as psycopg's binary cursor gives them, nothing
            # made of them (no SQLAlchemy rows, no engine values)
            with raw.cursor(binary=True) as cursor:
                cursor.execute(BARE_SQL, (cid,))
                return cursor.fetchall()

        bare = runs_ms(bare_fetch, 3)
        load = []
        for _ in range(3):
            ms, facts = timed(lambda: load_facts(s, cid, snapshot))
            load.append(ms)
        evaluate = runs_ms(lambda: mastery.evaluate_class(snapshot.model, facts, NOW), 3)
    load_ms, eval_ms, bare_ms = (statistics.median(x) for x in (load, evaluate, bare))

    cpu: dict[str, tuple[float, float | None]] = {}

    def full(name: str, now: datetime = NOW) -> Callable[[], object]:
        def run() -> object:
            with factory() as s:
                pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
                py, pg = time.process_time(), server_cpu(pid)
                out = recompute_course(s, cid, cause={"kind": "bench"}, now=now)
                s.commit()
                after = server_cpu(pid)
                cpu[name] = (
                    time.process_time() - py,
                    None if pg is None or after is None else after - pg,
                )
                return out

        return run

    first_ms, first = timed(full("first"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")  # as autovacuum would have by now, on a real course
    again_ms, again = timed(full("again"))
    add_grade_for_everyone(factory, cid, rnd)
    graded_ms, graded = timed(full("graded", NOW + timedelta(days=1)))
    print(
        f"  facts loading  {load_ms:8.1f} ms   (bare fetch of the same rows {bare_ms:.1f} ms, "
        f"{ratio(load_ms, bare_ms).strip()})"
    )
    print(f"  evaluation     {eval_ms:8.1f} ms")
    for label, ms, out, key in (
        ("every state new", first_ms, first, "first"),
        ("nothing changed", again_ms, again, "again"),
        (f"a grade each ({COMPETENCIES * size:,} new rows)", graded_ms, graded, "graded"),
    ):
        py, pg = cpu[key]
        print(
            f"  recompute, {label:<30} {ms:8.1f} ms  "
            f"(the rest: states read, written, commit {ms - load_ms - eval_ms:.1f} ms; "
            f"{out.mastery_changed:,} mastery and {out.unlocks_changed:,} unlock changes, "
            f"{out.scores_queued:,} scores queued; CPU: Python {py * 1000:.0f} ms, "
            + (f"PostgreSQL {pg * 1000:.0f} ms)" if pg is not None else "PostgreSQL n/a)")
            + (f"  target <= 5,000 ms  {verdict(ms, 5000)}" if size == 1000 else "")
        )

    # one new grade, the incremental path
    with factory() as s:
        student = s.scalar(select(Membership.user_id).where(Membership.context_id == cid).limit(1))
        comp = s.scalar(select(Competency.id).where(Competency.context_id == cid).limit(1))
    grades = []
    for k in range(max(5, runs // 4)):

        def one(k: int = k) -> object:
            with factory() as s:
                s.add(
                    Evidence(
                        context_id=cid,
                        user_id=student,
                        competency_id=comp,
                        source="rating",
                        source_key=f"bench-{k}",
                        raw_score=float(k % 2) * 4,
                        raw_maximum=4.0,
                        graded_at=NOW + timedelta(minutes=k),
                    )
                )
                out = recompute_course(
                    s, cid, cause={"kind": "bench"}, now=NOW + timedelta(minutes=k), only={student}
                )
                s.commit()
                return out

        ms, out = timed(one)
        grades.append((ms, out))
    grade_ms = [g[0] for g in grades]
    changed = sum(g[1].mastery_changed + g[1].unlocks_changed for g in grades) / len(grades)
    print(
        f"  one new grade  p50 {statistics.median(grade_ms):6.1f} ms  p95 {p(grade_ms, 0.95):6.1f} "
        f"ms  (grade stored, student recomputed, {changed:.1f} states changed, committed; "
        f"{ratio(statistics.median(grade_ms), first_ms).strip()} of a full recompute)  "
        f"target <= 50 ms  {verdict(p(grade_ms, 0.95), 50)}"
    )

    # the student path, as a request: a fresh session, one student's page
    with factory() as s:
        students = list(s.scalars(select(Membership.user_id).where(Membership.context_id == cid)))
    statements = []

    def count(*_args: object) -> None:
        statements.append(1)

    def path(cold: bool, view: Any = student_path) -> list[float]:
        out = []
        for _ in range(runs):
            uid = rnd.choice(students)
            with factory() as s:
                if cold:
                    model_cache(s).clear()
                ms, _view = timed(lambda s=s, uid=uid: view(s, cid, uid, now=NOW))
            out.append(ms)
        return out

    path(False)  # warm the cache
    event.listen(engine, "before_cursor_execute", count)
    statements.clear()
    warm = path(False)
    per_view = len(statements) / runs
    event.remove(engine, "before_cursor_execute", count)
    cold = path(True)
    path(False, student_view)
    profile = path(False, student_view)
    print(
        f"  student path   p50 {statistics.median(warm):6.2f} ms  p95 {p(warm, 0.95):6.2f} ms "
        f"cached model, {per_view:.0f} SQL statements; model rebuilt each time: p50 "
        f"{statistics.median(cold):6.2f} ms  p95 {p(cold, 0.95):6.2f} ms "
        f"(cached/rebuilt p95 {ratio(p(warm, 0.95), p(cold, 0.95)).strip()})  "
        f"target p95 <= 20 ms  {verdict(p(warm, 0.95), 20)}"
    )
    print(
        f"  profile view   p50 {statistics.median(profile):6.2f} ms  p95 "
        f"{p(profile, 0.95):6.2f} ms (student_view: every competency and goal evaluated, no "
        "kept lines; the profile page, not the path)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", default="30,1000,5000", help="class sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=40, help="student path pages per figure")
    args = parser.parse_args()
    made = scratch_db.create()
    if made is None:
        print("This benchmark needs PostgreSQL (LTI_TOOL_TEST_PG_URL).")
        return
    url, name = made
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        print(f"Recompute and student path on PostgreSQL; Python {sys.version.split()[0]}")
        rnd = random.Random(20261203)
        for size in (int(x) for x in args.students.split(",")):
            bench_size(engine, factory, size, args.runs, rnd)
        engine.dispose()
    finally:
        scratch_db.drop(name)


if __name__ == "__main__":
    main()
