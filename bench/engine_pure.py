"""Benchmark of the pure mastery engine in memory (a script, not a test):
`python bench/engine_pure.py`; `bench/engine.py` measures a course on PostgreSQL.

A class of 1,000 students, a course of 100 modules and 30 scored competencies (under 5 roll-up
parents) with 20 evidence items per student and competency (600,000 items), then:
  * whole-class evaluation: every score from its evidence, every roll-up, every module status;
  * one new score: the incremental update and the unlock changes it causes.
Each figure is the median of several runs; peak memory is measured in a separate pass.
Targets (issue 3): <= 100 ms for the whole class, <= 2 ms for one score.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lti_tool.mastery import (  # noqa: E402
    BKT,
    AllOf,
    AnyOf,
    AtLeastOf,
    Average,
    ClassFacts,
    CompetencyAtLeast,
    CompetencySpec,
    DecayingAverage,
    Evidence,
    GroupMembership,
    Highest,
    InGroup,
    Latest,
    LineItem,
    LineItemAtLeast,
    LineItemScore,
    Mode,
    Module,
    ModuleCompleted,
    ModuleMastered,
    NTimes,
    OnOrAfter,
    PowerLaw,
    RollUp,
    Unlock,
    UnlockMode,
    WeightedAverage,
    build_course,
)
from lti_tool.mastery.course import load_class, reevaluate  # noqa: E402

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=120)
METHODS = [
    DecayingAverage(0.65),
    WeightedAverage(0.65),
    Latest(),
    Highest(),
    Average(),
    Mode(),
    NTimes(3),
    PowerLaw(),
    BKT(0.3, 0.1, 0.2, 0.1),
]


def random_leaf(rnd: random.Random, i: int, codes: list[str], line_items: list[LineItem]):
    """A condition for module i; module conditions only point back, so there is no cycle."""
    kind = rnd.random()
    if kind < 0.45 or i == 0:
        return CompetencyAtLeast(
            rnd.choice(codes), level=rnd.choice(["Mastery", "Near Mastery", "Exceeds Mastery"])
        )
    if kind < 0.75:
        return ModuleCompleted(f"M{rnd.randrange(max(0, i - 10), i)}")
    if kind < 0.85:
        return ModuleMastered(f"M{rnd.randrange(max(0, i - 10), i)}")
    if kind < 0.95:
        return LineItemAtLeast(rnd.choice(line_items).id, percent=rnd.choice([60, 70, 80]))
    return OnOrAfter(T0 + timedelta(days=rnd.randrange(0, 200)))


def course(rnd: random.Random, n_modules: int, n_competencies: int):
    parents = [
        CompetencySpec(
            f"P{p}",
            f"Strand {p}",
            rollup=RollUp(
                "weighted",
                weights={f"C{c}": 1 + c % 3 for c in range(p, n_competencies, 5)},
                required=(f"C{p}",),
            ),
        )
        for p in range(5)
    ]
    leaves = [
        CompetencySpec(
            f"C{c}", f"Competency {c}", parent=f"P{c % 5}", method=METHODS[c % len(METHODS)]
        )
        for c in range(n_competencies)
    ]
    codes = [c.code for c in leaves] + [p.code for p in parents]
    line_items = [LineItem(f"L{i}", f"Quiz {i}", 10) for i in range(20)]
    modules = []
    for i in range(n_modules):

        def leaf(i: int = i) -> object:
            return random_leaf(rnd, i, codes, line_items)

        shape = rnd.random()
        if i == 0:
            rule = None
        elif shape < 0.5:
            rule = AllOf((leaf(), leaf()))
        elif shape < 0.7:
            rule = AnyOf((leaf(), AllOf((leaf(), leaf()))))
        elif shape < 0.85:
            rule = AtLeastOf(2, (leaf(), leaf(), leaf()))
        elif shape < 0.95:
            rule = AllOf((leaf(), InGroup("advanced")))
        else:
            rule = leaf()
        sticky = UnlockMode.STICKY if rnd.random() < 0.3 else UnlockMode.REEVALUATED
        modules.append(
            Module(
                f"M{i}",
                f"Module {i}",
                unlock=Unlock(rule, sticky),
                competencies=tuple(rnd.sample([c.code for c in leaves], 2)),
                line_item=f"L{i % 20}" if i % 3 == 0 else None,
                complete_at_percent=60,
            )
        )
    return build_course([*parents, *leaves], modules, line_items), leaves, line_items


def facts(rnd: random.Random, students, leaves, line_items, per_competency: int) -> ClassFacts:
    evidence = []
    for s in students:
        skill = rnd.random()
        for comp in leaves:
            for k in range(per_competency):
                score = min(4.0, max(0.0, round(rnd.gauss(1.5 + 2 * skill + k * 0.03, 0.8))))
                evidence.append(
                    Evidence(
                        f"{s}-{comp.code}-{k}",
                        s,
                        comp.code,
                        score,
                        T0 + timedelta(hours=k * 24 + rnd.random()),
                    )
                )
    scores = [LineItemScore(s, li.id, rnd.randrange(0, 11)) for s in students for li in line_items]
    groups = [GroupMembership(s, "advanced") for s in students if rnd.random() < 0.3]
    return ClassFacts(tuple(students), evidence, scores, groups=groups)


def median_ms(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--modules", type=int, default=100)
    parser.add_argument("--competencies", type=int, default=30)
    parser.add_argument("--evidence", type=int, default=20, help="per student and competency")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args()

    rnd = random.Random(20250106)
    students = [f"student-{i:04d}" for i in range(args.students)]
    t = time.perf_counter()
    model, leaves, line_items = course(rnd, args.modules, args.competencies)
    build_ms = (time.perf_counter() - t) * 1000
    class_facts = facts(rnd, students, leaves, line_items, args.evidence)
    n_evidence = len(class_facts.evidence)  # type: ignore[arg-type]

    t = time.perf_counter()
    loaded = load_class(model, class_facts, NOW)
    load_ms = (time.perf_counter() - t) * 1000

    whole_ms, whole_all = median_ms(lambda: reevaluate(loaded), args.runs)
    state = reevaluate(loaded)

    locked = sum(row.count(0) for row in state.status)
    print("Mastery engine benchmark")
    print(
        f"  class           {args.students:,} students × {args.modules} modules × "
        f"{args.competencies} scored competencies (+5 roll-up parents)"
    )
    print(f"  evidence        {n_evidence:,} items ({args.evidence} per student and competency)")
    print(f"  python          {sys.version.split()[0]}")
    print(f"  build model     {build_ms:8.1f} ms  (once per course version)")
    print(f"  load facts      {load_ms:8.1f} ms  (index and order the evidence, once per process)")
    print(
        f"  whole class     {whole_ms:8.1f} ms  median of {args.runs} "
        f"(min {min(whole_all):.1f}, max {max(whole_all):.1f})  target <= 100 ms  "
        f"{'OK' if whole_ms <= 100 else 'OVER'}"
    )
    print(
        f"                  {locked:,} of {args.students * args.modules:,} student × module "
        "pairs locked"
    )
    if not args.no_memory:
        del state
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        loaded2 = load_class(model, class_facts, NOW)
        after_load = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        state2 = reevaluate(loaded2)
        del state2
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  memory          {(after_load - base) / 2**20:8.1f} MiB class state after loading; "
            f"peak {(peak - base) / 2**20:.1f} MiB with a whole-class evaluation "
            "(tracemalloc)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process max RSS {rss:8.1f} MiB (includes the 600k input Evidence objects)")


if __name__ == "__main__":
    main()
