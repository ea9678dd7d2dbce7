"""Server time and size of the pages a course at full size serves (a script, not a test):

    .venv/bin/python bench/pages.py [--sizes 100,1000,5000] [--runs 30] [--pages path]

Builds, on a scratch PostgreSQL database, one course per size with that many students x 30
competencies x 100 modules (mastery and unlock states, 5 evidence items per student and
competency, some students stuck, some inactive), written in bulk with Core inserts. Then prints
p50/p95 in-process WSGI time (Flask test client, a launched session) and response bytes for
the class view's first screen and one student's path page, beside a bare Flask page served the
same way in the same run. Targets (issue 13): class view <= 300 ms p95 and <= 300 KB at 1,000
students, at 5,000 no worse than 2x that; the path page <= 20 ms p95.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scratch_db  # noqa: E402
from flask import Flask, render_template_string  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from lti_tool import migrate  # noqa: E402
from lti_tool.app import create_app  # noqa: E402
from lti_tool.db import make_engine  # noqa: E402
from lti_tool.models.course import Context, Membership, User  # noqa: E402
from lti_tool.models.mastery import Competency, Evidence, MasteryState, UnlockState  # noqa: E402
from lti_tool.models.modules import Module  # noqa: E402
from lti_tool.models.platform import Deployment, Registration  # noqa: E402
from lti_tool.models.types import utcnow  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402

COMPETENCIES = 30
MODULES = 100
EVIDENCE = 5  # per student and competency: 150,000 rows at 1,000 students
LEVELS = [("Exceeds Mastery", 4.0), ("Mastery", 3.0), ("Near Mastery", 2.0), ("Below", 1.0)]
STATUSES = ["locked", "unlocked", "completed", "mastered"]
CHUNK = 20_000


def bulk(conn, table, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def build_course(rt, registration_id: int, deployment_id: int, students: int, seed: int):
    """One course of `students` students: (context id, teacher id, a student's id, the
    first competency's id)."""
    rnd = random.Random(seed)
    now = utcnow()
    with rt.engine.begin() as conn:
        context_id = conn.execute(
            insert(Context).returning(Context.id),
            {
                "registration_id": registration_id,
                "deployment_id": deployment_id,
                "context_id": f"course-{students}-{seed}",  # the column of id_on_platform
                "title": f"Bench course of {students}",
                "updated_at": now,
            },
        ).scalar_one()
        first = conn.execute(select(User.id).order_by(User.id.desc()).limit(1)).scalar() or 0
        people = [
            {
                "id": first + 1 + i,
                "registration_id": registration_id,
                "sub": f"{context_id}-{i}",
                "name": f"{rnd.choice('ABCDEFGHJKLMNPRSTW')}{i:05d} Student <b>{i}</b>",
                "given_name": "",
                "family_name": f"F{rnd.randrange(10**6):06d}",
                "email": "",
                "updated_at": now,
            }
            for i in range(students + 1)
        ]
        bulk(conn, User, people)
        teacher_id = people[0]["id"]
        student_ids = [p["id"] for p in people[1:]]
        bulk(
            conn,
            Membership,
            [
                {
                    "context_id": context_id,
                    "user_id": uid,
                    "role": "teacher" if uid == teacher_id else "student",
                    "roles": [],
                    "mentees": [],
                    "status": "Inactive" if rnd.random() < 0.03 else "Active",
                    "launch_fingerprint": "",
                    "updated_at": now,
                }
                for uid in [teacher_id, *student_ids]
            ],
        )
        comp_ids = [
            conn.execute(
                insert(Competency).returning(Competency.id),
                {
                    "context_id": context_id,
                    "code": f"C{k:02}",
                    "title": f"Competency {k:02}",
                    "description": "",
                    "method": {"method": "decaying_average", "w": 0.65},
                    "min_evidence": 1,
                    "order_by": "graded",
                    "rollup": {},
                    "position": k,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            for k in range(COMPETENCIES)
        ]
        module_ids = [
            conn.execute(
                insert(Module).returning(Module.id),
                {
                    "context_id": context_id,
                    "title": f"Module {m:03}",
                    "description": "",
                    "content": "",
                    "position": m,
                    "unlock_rule": None
                    if m == 0
                    else {
                        "rule": {
                            "all": [
                                {"competency": f"C{m % COMPETENCIES:02}", "level": "Mastery"},
                                {
                                    "competency": f"C{(m * 7) % COMPETENCIES:02}",
                                    "level": "Near Mastery",
                                },
                            ]
                        }
                    },
                    "sticky": False,
                    "choice_of": [],
                    "gates_lms": m % 10 == 0,
                    "lms_target_title": "",
                    "lms_target_url": "",
                    "created_at": now,
                },
            ).scalar_one()
            for m in range(MODULES)
        ]
        states, unlocks, evidence = [], [], []
        for uid in student_ids:
            skill = rnd.random()
            idle = rnd.random() < 0.1  # nothing new for ten days: stuck where locked
            first_day = 10 if idle else 0
            for cid in comp_ids:
                if rnd.random() < 0.1:
                    continue  # no score yet
                score = min(4.0, max(0.5, rnd.gauss(1.5 + 2.2 * skill, 0.7)))
                level = next((name for name, pts in LEVELS if score >= pts), "Below")
                states.append(
                    {
                        "context_id": context_id,
                        "user_id": uid,
                        "competency_id": cid,
                        "score": round(score, 2),
                        "level": level,
                        "mastered": score >= 3.0,
                        "evidence_count": EVIDENCE,
                        "updated_at": now,
                    }
                )
                for k in range(EVIDENCE):
                    evidence.append(
                        {
                            "context_id": context_id,
                            "user_id": uid,
                            "competency_id": cid,
                            "source": "lms",
                            "source_key": f"q{k}",
                            "raw_score": rnd.randrange(0, 11),
                            "raw_maximum": 10.0,
                            "graded_at": now - timedelta(days=rnd.randrange(first_day, 60)),
                            "note": "",
                            "updated_at": now,
                        }
                    )
            opened = int(skill * MODULES)
            for n, mid in enumerate(module_ids):
                status = STATUSES[rnd.randrange(1, 4)] if n < opened else "locked"
                unlocks.append(
                    {
                        "context_id": context_id,
                        "user_id": uid,
                        "module_id": mid,
                        "status": status,
                        "sticky_unlocked": False,
                        "since": now - timedelta(days=rnd.randrange(0, 30)),
                    }
                )
        bulk(conn, MasteryState, states)
        bulk(conn, UnlockState, unlocks)
        bulk(conn, Evidence, evidence)
    return context_id, teacher_id, student_ids[len(student_ids) // 2], comp_ids[0]


def bound_client(app, registration_id, deployment_id, context_id, user_id, role):
    """A test client whose session holds a launch for this person (what a launch leaves)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["launches"] = {
            "bench": {
                "r": registration_id,
                "d": deployment_id,
                "c": context_id,
                "u": user_id,
                "role": role,
                "mt": "LtiResourceLinkRequest",
                "fa": [],
                "m": None,
                "exp": int(time.time()) + 86_400,
            }
        }
    return client


def timed(client, url: str, runs: int) -> tuple[list[float], int]:
    for _ in range(3):  # warm-up: template compilation, connection pool, caches
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:500])
    times = []
    size = 0
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        size = len(resp.data)
    return times, size


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare_app() -> Flask:
    """The floor: Flask rendering a small template, no database."""
    bare = Flask("bare")

    @bare.get("/")
    def hello() -> str:
        return render_template_string("<!doctype html><title>{{ t }}</title><p>{{ t }}</p>", t="hi")

    return bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--pages",
        default="class,class2,path,csv",
        help="which pages to time, comma-separated (class, class2, path, csv)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    pages = set(args.pages.split(","))
    scratch = scratch_db.create()
    if scratch is None:
        sys.exit("bench/pages.py needs PostgreSQL (LTI_TOOL_TEST_PG_URL).")
    url, name = scratch
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        app = create_app(
            load_settings(
                environ={},
                overrides={
                    "environment": "test",
                    "database_url": url,
                    "base_url": "http://127.0.0.1:5000",
                    "log_level": "ERROR",
                },
            )
        )
        rt = app.extensions["lti_tool"]
        with rt.engine.begin() as conn:
            reg = conn.execute(
                insert(Registration).returning(Registration.id),
                {
                    "uuid": "00000000-0000-0000-0000-00000000b0b0",
                    "name": "bench",
                    "issuer": "https://lms.example",
                    "client_id": "bench",
                    "auth_login_url": "https://lms.example/auth",
                    "auth_token_url": "https://lms.example/token",
                    "key_set_url": "https://lms.example/jwks",
                    "platform_family": "other",
                    "created_at": utcnow(),
                },
            ).scalar_one()
            dep = conn.execute(
                insert(Deployment).returning(Deployment.id),
                {
                    "registration_id": reg,
                    "deployment_id": "1",
                    "allowed": True,
                    "first_seen_at": utcnow(),
                },
            ).scalar_one()
        courses = {}
        for n, size in enumerate(sizes):
            t = time.perf_counter()
            courses[size] = build_course(rt, reg, dep, size, seed=n + 1)
            took = time.perf_counter() - t
            print(f"built {size:,} students x {COMPETENCIES} x {MODULES} in {took:.1f} s")
        with rt.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()

        bare = bare_app().test_client()
        rows = []
        floor, floor_size = timed(bare, "/", args.runs)
        rows.append(("bare Flask page", floor, floor_size))
        for size in sizes:
            context_id, teacher_id, student_id, comp_id = courses[size]
            teacher = bound_client(app, reg, dep, context_id, teacher_id, "teacher")
            student = bound_client(app, reg, dep, context_id, student_id, "student")
            runs = args.runs if size <= 1000 else max(10, args.runs // 2)
            if "class" in pages:
                rows.append((f"class view, {size:,}", *timed(teacher, "/c/bench/class", runs)))
            if "class2" in pages:
                rows.append(
                    (
                        f"class view page 2 by score, {size:,}",
                        *timed(teacher, f"/c/bench/class?sort=score&c={comp_id}&page=2", runs),
                    )
                )
            if "path" in pages:
                rows.append((f"path page, {size:,}", *timed(student, "/c/bench/path", runs)))
            if "csv" in pages:
                rows.append(
                    (f"CSV export (whole grid), {size:,}", *timed(teacher, "/c/bench/class.csv", 3))
                )
            floor_more, _ = timed(bare, "/", args.runs)  # the floor again, between sizes
            floor += floor_more
        base = statistics.median(floor)
        print(
            f"\nPages on PostgreSQL, {COMPETENCIES} competencies x {MODULES} modules "
            f"(in-process WSGI time, ms)"
        )
        print(f"{'':<40}{'p50':>9}{'p95':>9}{'x bare p50':>12}{'KB':>9}")
        for label, times, size in rows:
            p50 = statistics.median(times)
            print(
                f"{label:<40}{p50:>9.1f}{pct(times, 0.95):>9.1f}{p50 / base:>12.0f}"
                f"{size / 1024:>9.1f}"
            )
        by = {label: (statistics.median(t), pct(t, 0.95), s) for label, t, s in rows}
        if "class view, 1,000" in by and "class view, 5,000" in by:
            ratio = by["class view, 5,000"][1] / by["class view, 1,000"][1]
            print(f"\nclass view p95, 5,000 / 1,000 students: {ratio:.2f}x (target <= 2x)")
        print("targets: class view <= 300 ms p95 and <= 300 KB at 1,000; path page <= 20 ms p95")
        rt.engine.dispose()
    finally:
        scratch_db.drop(name)


if __name__ == "__main__":
    main()
