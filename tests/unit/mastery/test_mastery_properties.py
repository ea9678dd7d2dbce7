"""Property tests: the engine's promises hold for any course, facts and sequence of changes."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool.mastery import (
    BKT,
    DEFAULT_SCALE,
    AllOf,
    AnyOf,
    AtLeastOf,
    Average,
    Catalog,
    ClassFacts,
    CompetencyAtLeast,
    CompetencySpec,
    Completion,
    DecayingAverage,
    Evidence,
    GroupMembership,
    Highest,
    InGroup,
    Latest,
    LineItem,
    LineItemAtLeast,
    LineItemScore,
    MasteryError,
    Mode,
    Module,
    ModuleCompleted,
    ModuleMastered,
    Not,
    NTimes,
    OnOrAfter,
    OrderBy,
    Override,
    OverrideKind,
    PowerLaw,
    RollUp,
    RuleError,
    Status,
    Unlock,
    UnlockMode,
    WeightedAverage,
    build_course,
    evaluate_class,
    explain,
    parse_unlock,
    rule_to_json,
)

settings.register_profile(
    "mastery",
    max_examples=int(os.environ.get("MASTERY_EXAMPLES", "100")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("mastery")

T0 = datetime(2025, 3, 1, tzinfo=UTC)
STUDENTS = ("s0", "s1", "s2")
LEAVES = ("A", "B", "C", "E")
CODES = ("P", *LEAVES)
LINE_ITEMS = (LineItem("L1", "Quiz 1", 10), LineItem("L2", "Quiz 2", 4))
GROUPS = ("g1", "g2", "g3")
DATES = (T0 + timedelta(hours=20), T0 + timedelta(hours=60))
N_MODULES = 6
SCORES = st.sampled_from([0, 0.5, 1, 1.5, 2, 2.5, 2.9, 3, 3.5, 4])

methods = st.one_of(
    st.sampled_from([Latest(), Highest(), Average(), Mode(), PowerLaw()]),
    st.builds(WeightedAverage, st.floats(0.01, 0.99)),
    st.builds(DecayingAverage, st.floats(0.5, 0.99)),
    st.builds(NTimes, st.integers(1, 4)),
    st.builds(BKT, st.floats(0, 1), st.floats(0, 1), st.floats(0.05, 0.45), st.floats(0.05, 0.45)),
)


@st.composite
def competencies(draw):
    required = draw(st.lists(st.sampled_from(("A", "B", "C")), unique=True, max_size=2))
    kind = draw(st.sampled_from(["average", "minimum", "weighted"]))
    weights = {c: draw(st.sampled_from([0.5, 1, 2])) for c in "ABC"} if kind == "weighted" else {}
    comps = [CompetencySpec("P", "Parent", rollup=RollUp(kind, weights, tuple(required)))]
    for code in LEAVES:
        comps.append(
            CompetencySpec(
                code,
                f"Skill {code}",
                parent="P" if code != "E" else None,
                method=draw(methods),
                min_evidence=draw(st.integers(1, 3)),
                order_by=draw(st.sampled_from(list(OrderBy))),
            )
        )
    return comps


def leaf_rules(i):
    options = [
        st.builds(
            CompetencyAtLeast,
            st.sampled_from(CODES),
            level=st.sampled_from([lv.name for lv in DEFAULT_SCALE.levels]),
        ),
        st.builds(lambda c, s: CompetencyAtLeast(c, score=s), st.sampled_from(CODES), SCORES),
        st.builds(
            lambda li, p: LineItemAtLeast(li, percent=p),
            st.sampled_from(["L1", "L2"]),
            st.sampled_from([0, 50, 80, 100]),
        ),
        st.builds(lambda p: LineItemAtLeast("L1", points=p), st.sampled_from([0, 5, 7.5, 10])),
        st.builds(OnOrAfter, st.sampled_from(DATES)),
        st.builds(InGroup, st.sampled_from(GROUPS)),
    ]
    if i:
        earlier = st.sampled_from([f"M{j}" for j in range(i)])
        options += [st.builds(ModuleCompleted, earlier), st.builds(ModuleMastered, earlier)]
    return st.one_of(options)


def rules(i):
    def extend(kids):
        lists = st.lists(kids, min_size=1, max_size=3).map(tuple)
        return st.one_of(
            st.builds(AllOf, lists),
            st.builds(AnyOf, lists),
            st.builds(Not, kids),
            lists.flatmap(lambda cs: st.builds(AtLeastOf, st.integers(1, len(cs)), st.just(cs))),
        )

    return st.recursive(leaf_rules(i), extend, max_leaves=6)


RULES = [rules(i) for i in range(N_MODULES + 1)]  # built once: strategies are costly to validate
EARLIER = [
    st.sampled_from([f"M{j}" for j in range(i)]) if i else st.nothing() for i in range(N_MODULES)
]
MODULE_COMPETENCIES = st.lists(st.sampled_from(CODES), min_size=1, max_size=2, unique=True)


@st.composite
def modules(draw):
    mods = []
    for i in range(N_MODULES):
        rule = draw(st.none() | RULES[i])
        unlock = Unlock(rule, draw(st.sampled_from(list(UnlockMode))))
        if i >= 2 and draw(st.booleans()) and draw(st.booleans()):
            options = draw(st.lists(EARLIER[i], min_size=1, max_size=2, unique=True))
            mods.append(Module(f"M{i}", f"Module {i}", unlock, choice_of=tuple(options)))
            continue
        mods.append(
            Module(
                f"M{i}",
                f"Module {i}",
                unlock,
                competencies=tuple(draw(MODULE_COMPETENCIES)),
                line_item=draw(st.sampled_from([None, "L1", "L2"])),
                complete_at_percent=draw(st.sampled_from([None, 0, 60, 100])),
            )
        )
    return mods


@st.composite
def models(draw):
    return build_course(
        draw(competencies()), draw(modules()), LINE_ITEMS, groups={g: g.upper() for g in GROUPS}
    )


@dataclass(frozen=True)
class Tick:
    hours: int


@dataclass(frozen=True)
class Removed:
    """A score deleted in the gradebook: the next evaluation no longer sees it."""

    id: str
    student: str
    competency: str


STUDENT = st.sampled_from(STUDENTS)
MODULE = st.sampled_from([f"M{i}" for i in range(N_MODULES)])
HOUR = st.integers(0, 100).map(lambda h: T0 + timedelta(hours=h))
evidence = st.builds(
    Evidence,
    st.sampled_from(["e1", "e2", "e3", "e4"]),
    STUDENT,
    st.sampled_from(CODES),
    SCORES,
    HOUR,
    st.none() | HOUR,
)
changes_without_overrides = st.one_of(
    evidence,
    evidence,
    st.builds(Removed, st.sampled_from(["e1", "e2"]), STUDENT, st.sampled_from(CODES)),
    st.builds(
        LineItemScore,
        STUDENT,
        st.sampled_from(["L1", "L2", "unknown"]),
        st.none() | st.sampled_from([0, 2, 3.2, 5, 8, 10]),
    ),
    st.builds(Completion, STUDENT, MODULE, st.booleans()),
    st.builds(GroupMembership, STUDENT, st.sampled_from(["g1", "g2"]), st.booleans()),
    st.builds(Tick, st.integers(1, 40)),
)
any_change = st.one_of(
    changes_without_overrides,
    st.builds(Override, STUDENT, MODULE, st.none() | st.sampled_from(list(OverrideKind))),
)


class FactLog:
    """The raw facts after a sequence of changes, as the app would store them."""

    def __init__(self) -> None:
        self.evidence: list[Evidence] = []
        self.points: dict[tuple[str, str], float | None] = {}
        self.completions: dict[tuple[str, str], bool] = {}
        self.groups: dict[tuple[str, str], bool] = {}
        self.overrides: dict[tuple[str, str], OverrideKind | None] = {}
        self.now = T0

    def record(self, change) -> None:
        if isinstance(change, Evidence):
            self.evidence.append(change)
        elif isinstance(change, Removed):
            key = (change.id, change.student, change.competency)
            self.evidence = [e for e in self.evidence if (e.id, e.student, e.competency) != key]
        elif isinstance(change, LineItemScore):
            self.points[(change.student, change.line_item)] = change.points
        elif isinstance(change, Completion):
            self.completions[(change.student, change.module)] = change.completed
        elif isinstance(change, GroupMembership):
            self.groups[(change.student, change.group)] = change.member
        elif isinstance(change, Override):
            self.overrides[(change.student, change.module)] = change.kind
        elif isinstance(change, Tick):
            self.now += timedelta(hours=change.hours)

    def facts(self, sticky=()) -> ClassFacts:
        return ClassFacts(
            STUDENTS,
            list(self.evidence),
            [LineItemScore(s, li, p) for (s, li), p in self.points.items()],
            [Completion(s, m, c) for (s, m), c in self.completions.items()],
            [GroupMembership(s, g, v) for (s, g), v in self.groups.items()],
            [Override(s, m, k) for (s, m), k in self.overrides.items()],
            sticky,
        )


def same(a, b) -> bool:
    return a.scores == b.scores and a.status == b.status and a.memory == b.memory


@PROFILE
@given(models(), st.lists(changes_without_overrides, max_size=25))
def test_a_sticky_unlock_never_relocks(model, changes):
    """Evaluated again after each change with the unlocks it remembered, as the app stores them.

    A sticky choice keeps its own rule's verdict, but is open only while one of its options is
    (decisions #25): it locks again only when every option has locked by its own rule."""
    log = FactLog()
    state = evaluate_class(model, log.facts(), log.now)
    sticky = [i for i, m in enumerate(model.modules) if m.unlock.mode is UnlockMode.STICKY]
    for change in changes:
        before = state
        log.record(change)
        state = evaluate_class(model, log.facts(before.sticky_unlocked()), log.now)
        for mi in sticky:
            options = [model.module_index[o] for o in model.modules[mi].choice_of]
            for si in range(len(STUDENTS)):
                if before.status[mi][si] == Status.LOCKED:
                    continue
                if options and all(state.status[o][si] == Status.LOCKED for o in options):
                    continue
                assert state.status[mi][si] != Status.LOCKED


@PROFILE
@given(models(), st.lists(any_change, max_size=20))
def test_explanation_verdict_always_equals_the_result(model, changes):
    log = FactLog()
    for change in changes:
        log.record(change)
    state = evaluate_class(model, log.facts(), log.now)
    for student in STUDENTS:
        for module in model.modules:
            e = explain(state, student, module.id)
            assert e.status == state.module_status(student, module.id)
            if e.condition is not None:
                assert 0.0 <= e.condition.progress <= 1.0
                assert (e.condition.progress == 1.0) == e.condition.holds
            if e.status is Status.LOCKED and e.override is None:
                assert e.next_steps  # a locked student always gets something to do


@PROFILE
@given(models(), st.lists(evidence, max_size=30), st.randoms(use_true_random=False))
def test_evaluation_is_deterministic(model, items, rnd):
    unique = list({(e.id, e.student, e.competency): e for e in items}.values())
    shuffled = list(unique)
    rnd.shuffle(shuffled)
    a = evaluate_class(model, ClassFacts(STUDENTS, unique), T0 + timedelta(hours=50))
    b = evaluate_class(model, ClassFacts(STUDENTS, shuffled), T0 + timedelta(hours=50))
    assert same(a, b)


@PROFILE
@given(st.lists(SCORES, min_size=1, max_size=20), st.data())
def test_a_score_at_or_above_the_max_never_lowers_highest(scores, data):
    highest = Highest().calculator(DEFAULT_SCALE)
    new = data.draw(st.floats(max(scores), 4.0))
    assert highest((*scores, new)) >= highest(tuple(scores))


@PROFILE
@given(st.lists(SCORES, min_size=1, max_size=20), st.floats(0.5, 0.99))
def test_decaying_average_equals_its_recurrence(scores, w):
    d = scores[0]
    for s in scores[1:]:
        d = (1 - w) * d + w * s
    assert math.isclose(
        DecayingAverage(w).calculator(DEFAULT_SCALE)(tuple(scores)), d, abs_tol=1e-9
    )


CATALOG = Catalog.of(
    [CompetencySpec(c, f"Skill {c}") for c in CODES],
    [Module(f"M{i}", f"Module {i}") for i in range(N_MODULES)],
    LINE_ITEMS,
    {g: g for g in GROUPS},
)
KEYS = st.sampled_from(
    [
        "all",
        "any",
        "not",
        "at_least",
        "k",
        "of",
        "module_completed",
        "module_mastered",
        "competency",
        "level",
        "score",
        "line_item",
        "percent",
        "points",
        "on_or_after",
        "group",
        "mode",
        "rule",
    ]
)
ATOMS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 6)
    | st.floats(allow_nan=True)
    | st.sampled_from(
        [*CODES, "M1", "M9", "L1", "g1", "Mastery", "2025-03-01T00:00:00Z", "2025-13-01", "sticky"]
    )
    | st.sampled_from([2**1024, -(2**1024), 10**400, 2**53 + 1, 1e308, 5e-324])
    | st.text(max_size=5)
)
JSON = st.recursive(
    ATOMS,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS | st.text(max_size=3), c, max_size=3),
    max_leaves=12,
)


@PROFILE
@given(
    st.one_of(
        JSON, JSON.map(lambda r: {"rule": r}), JSON.map(lambda r: {"mode": "sticky", "rule": r})
    )
)
def test_parse_of_any_json_succeeds_or_raises_a_rule_error(doc):
    for form in (doc, json.dumps(doc)):
        try:
            unlock = parse_unlock(form, CATALOG)
        except RuleError as exc:
            assert str(exc)
        else:
            assert isinstance(unlock, Unlock)


@PROFILE
@given(RULES[N_MODULES])
def test_rules_round_trip_through_json(rule):
    text = json.dumps({"rule": rule_to_json(rule)})
    assert parse_unlock(text, CATALOG).rule == rule


def test_random_json_text_is_refused_cleanly():
    rnd = random.Random(7)
    for _ in range(200):
        text = "".join(rnd.choice('{}[]":,0123456789abc -.eE') for _ in range(rnd.randint(0, 30)))
        try:
            parse_unlock(text, CATALOG)
        except RuleError:
            pass


# Numbers of any size, as a gradebook, a database or a hostile caller may hand them over.
ANY_NUMBER = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.sampled_from([2**1024, -(2**1024), 10**400, 2**53 + 1, 1e308, 5e-324, 0, -0.0])
)


@st.composite
def evidence_of_any_size(draw):
    """(arguments, Evidence or the MasteryError its construction raised)."""
    score = draw(ANY_NUMBER)
    out_of = draw(st.none() | ANY_NUMBER)
    ident = draw(st.sampled_from(["e1", "e2", "e3"]))
    args = (ident, draw(STUDENT), draw(st.sampled_from(CODES)), score, draw(HOUR))
    try:
        return Evidence(*args, out_of=out_of)
    except MasteryError as exc:
        return exc


def _usable(value, positive: bool) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return value > 0 if positive else value >= 0


@PROFILE
@given(models(), st.lists(evidence_of_any_size(), max_size=12))
def test_evidence_of_any_size_never_crashes_and_stays_on_the_scale(model, items):
    usable = [e for e in items if isinstance(e, Evidence)]
    for e in usable:  # a number is refused only when it cannot be used
        assert _usable(e.score, False) and (e.out_of is None or _usable(e.out_of, True))
    log = FactLog()
    for e in usable:
        log.record(e)
    full = evaluate_class(model, log.facts(), log.now)
    for comp, column in zip(model.competencies, full.scores, strict=True):
        assert all(s == -1.0 or 0.0 <= s <= comp.scale.top_points for s in column)


@PROFILE
@given(ANY_NUMBER, ANY_NUMBER)
def test_a_refused_number_is_always_the_engines_error(score, out_of):
    try:
        Evidence("e", "s0", "A", score, T0, out_of=out_of)
    except MasteryError:
        assert not (_usable(score, False) and _usable(out_of, True))
    try:
        evaluate_class(
            build_course([], [], LINE_ITEMS),
            ClassFacts(("s0",), (), [LineItemScore("s0", "L1", score)]),
            T0,
        )
    except MasteryError:
        assert not _usable(score, False)


@PROFILE
@given(
    st.lists(SCORES, min_size=1, max_size=12),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0.05, 0.45),
    st.floats(0.05, 0.45),
    st.floats(0.5, 0.99),
)
def test_bkt_masters_exactly_when_the_unrounded_probability_reaches_the_threshold(
    scores, p_init, p_transit, p_guess, p_slip, mastered_at
):
    bkt = BKT(p_init, p_transit, p_guess, p_slip, mastered_at)
    model = build_course([CompetencySpec("A", "A", method=bkt)], [])
    items = [Evidence(f"e{i}", "s0", "A", s, T0 + timedelta(hours=i)) for i, s in enumerate(scores)]
    result = evaluate_class(model, ClassFacts(("s0",), items), T0).mastery("s0", "A")
    p = bkt.probability(tuple(float(s) for s in scores), DEFAULT_SCALE)
    if p >= mastered_at:
        assert result.mastered
    if result.mastered:
        assert p >= mastered_at - 1e-9
    assert result.level is DEFAULT_SCALE.level_for(result.score)


def _as_row(e: Evidence) -> tuple:
    sent = e.submitted_at.timestamp() if e.submitted_at is not None else None
    return (e.id, e.student, e.competency, e.score, e.out_of, e.graded_at.timestamp(), sent)


@PROFILE
@given(models(), st.lists(evidence, max_size=30), st.lists(evidence_of_any_size(), max_size=8))
def test_evidence_as_plain_rows_evaluates_as_evidence_objects(model, items, odd):
    """A recompute hands a course's evidence over as rows of floats: scores, levels, statuses
    and sticky memory are those of the same evidence as objects (ints and huge numbers too)."""
    usable = [e for e in [*items, *odd] if isinstance(e, Evidence)]
    unique = list({(e.id, e.student, e.competency): e for e in usable}.values())
    now = T0 + timedelta(hours=50)
    objects = evaluate_class(model, ClassFacts(STUDENTS, unique), now)
    rows = evaluate_class(
        model, ClassFacts(STUDENTS, evidence_rows=[_as_row(e) for e in unique]), now
    )
    assert same(objects, rows)
    assert [[len(s) for s in col] for col in objects.series] == [
        [len(s) for s in col] for col in rows.series
    ]


def test_rows_order_by_submitted_time_when_asked():
    """The same two rows read latest-graded or latest-submitted first, as Evidence does."""
    rows = [
        ("e1", "s", "C", 1.0, None, 7200.0, 0.0),  # graded last, handed in first
        ("e2", "s", "C", 4.0, None, 3600.0, 3600.0),
    ]
    results = {}
    for order_by in OrderBy:
        model = build_course([CompetencySpec("C", "C", method=Latest(), order_by=order_by)], [])
        results[order_by] = evaluate_class(model, ClassFacts(("s",), evidence_rows=rows), T0).score(
            "s", "C"
        )
    assert results == {OrderBy.GRADED: 1.0, OrderBy.SUBMITTED: 4.0}


def test_a_refused_row_is_the_engines_error_and_a_usable_one_counts():
    """A row the engine cannot use (a bad number or time, an unknown student or competency)
    is refused with its own error, never a TypeError or a crash; a usable one is counted."""
    model = build_course([CompetencySpec("A", "A", method=Latest())], [])
    numbers = [3.0, 0, 2, -1.0, math.nan, math.inf, -math.inf, 2**1024, 5e-324, True, "3"]
    times = [0.0, 5, math.nan, math.inf, "2025-03-01", None]
    for score, out_of, graded, sent, student, code in itertools.product(
        numbers, [None, *numbers], times, [None, 60.0, math.nan], ["s0", "x"], ["A", "X"]
    ):
        row = ("e", student, code, score, out_of, graded, sent)
        usable = (
            _usable_number(score, False)
            and (out_of is None or _usable_number(out_of, True))
            and _usable_number(graded, None)
            and (sent is None or _usable_number(sent, None))
            and (student, code) == ("s0", "A")
        )
        try:
            state = evaluate_class(model, ClassFacts(("s0",), evidence_rows=[row]), T0)
        except MasteryError:
            assert not usable, row
            continue
        assert usable, row
        assert 0.0 <= state.score("s0", "A") <= DEFAULT_SCALE.top_points, row


def _usable_number(value, positive: bool | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return positive is None or (value > 0 if positive else value >= 0)
