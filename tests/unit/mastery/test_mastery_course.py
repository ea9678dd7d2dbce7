"""Class evaluation, overrides, sticky rules, choices, dates, groups and explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lti_tool.mastery import (
    AllOf,
    ClassFacts,
    CompetencyAtLeast,
    CompetencySpec,
    Completion,
    Evidence,
    EvidenceError,
    GroupMembership,
    InGroup,
    Latest,
    LineItem,
    LineItemAtLeast,
    LineItemScore,
    Module,
    ModuleCompleted,
    OnOrAfter,
    Override,
    OverrideKind,
    Status,
    Unlock,
    UnlockMode,
    build_course,
    evaluate_class,
    explain,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MARCH_10 = datetime(2025, 3, 10, tzinfo=UTC)

COMPETENCIES = [
    CompetencySpec("FRAC", "Fractions"),
    CompetencySpec("FRAC-1", "Equivalent fractions", parent="FRAC", method=Latest()),
    CompetencySpec("FRAC-2", "Adding fractions", parent="FRAC", method=Latest()),
]
LINE_ITEMS = [LineItem("quiz-1", "Quiz 1", 10)]
MODULES = [
    Module("M1", "Module 1", line_item="quiz-1", complete_at_percent=60),
    Module("M2", "Module 2", competencies=("FRAC-1",), unlock=Unlock(ModuleCompleted("M1"))),
    Module(
        "M3",
        "Module 3",
        unlock=Unlock(AllOf((CompetencyAtLeast("FRAC-1", level="Mastery"), ModuleCompleted("M2")))),
    ),
    Module(
        "M4",
        "Module 4",
        unlock=Unlock(CompetencyAtLeast("FRAC-1", level="Mastery"), UnlockMode.STICKY),
    ),
    Module("P", "Pick a path", choice_of=("M2", "M4"), unlock=Unlock(ModuleCompleted("M1"))),
    Module("M5", "Module 5", unlock=Unlock(AllOf((OnOrAfter(MARCH_10), InGroup("red"))))),
]
MODEL = build_course(COMPETENCIES, MODULES, LINE_ITEMS, groups={"red": "Red team"})
STUDENTS = ("ana", "ben", "cy")


def ev(id_, student, code, score, days=0):
    return Evidence(id_, student, code, score, T0 + timedelta(days=days))


def base_facts(**extra):
    facts = {
        "evidence": [ev("a1", "ana", "FRAC-1", 2.6), ev("b1", "ben", "FRAC-1", 3.5)],
        "line_item_scores": [LineItemScore("ana", "quiz-1", 7), LineItemScore("ben", "quiz-1", 5)],
    }
    return ClassFacts(STUDENTS, **{**facts, **extra})


def test_whole_class_statuses():
    state = evaluate_class(MODEL, base_facts(), T0)
    assert state.statuses("ana") == {
        "M1": Status.COMPLETED,
        "M2": Status.UNLOCKED,
        "M3": Status.LOCKED,
        "M4": Status.LOCKED,
        "P": Status.UNLOCKED,
        "M5": Status.LOCKED,
    }
    # ben: 5/10 is below the 60 % needed to complete M1, but has Mastery in FRAC-1.
    assert state.statuses("ben") == {
        "M1": Status.UNLOCKED,
        "M2": Status.LOCKED,
        "M3": Status.LOCKED,
        "M4": Status.UNLOCKED,
        "P": Status.LOCKED,
        "M5": Status.LOCKED,
    }
    assert state.mastery("ana", "FRAC").score == 2.6  # FRAC-2 has no score: left out
    assert state.mastery("cy", "FRAC").score is None


def test_overrides_beat_the_rule():
    overrides = [
        Override("ana", "M3", OverrideKind.UNLOCK),
        Override("ana", "M1", OverrideKind.LOCK),
        Override("ben", "M1", OverrideKind.EXEMPT),
    ]
    state = evaluate_class(MODEL, base_facts(overrides=overrides), T0)
    assert state.module_status("ana", "M3") is Status.UNLOCKED
    assert state.module_status("ana", "M1") is Status.LOCKED
    assert state.module_status("ana", "M2") is Status.LOCKED  # M1 no longer counts as completed
    assert state.module_status("ben", "M1") is Status.EXEMPT
    assert state.module_status("ben", "M2") is Status.MASTERED  # exempt counts as done
    assert (
        explain(state, "ben", "M1").summary == "Exempt: your teacher excused you from this module."
    )


def test_sticky_unlock_survives_a_lowered_grade_but_reevaluated_does_not():
    state = evaluate_class(MODEL, base_facts(), T0)
    assert state.module_status("ben", "M4") is Status.UNLOCKED
    assert ("ben", "M4") in state.sticky_unlocked()
    # Remembered sticky unlocks are passed back in on the next evaluation, as the app stores them.
    facts = base_facts(sticky_unlocked=state.sticky_unlocked())
    lowered = ClassFacts(
        STUDENTS,
        [*facts.evidence, ev("b2", "ben", "FRAC-1", 2.0, days=1)],
        facts.line_item_scores,
        sticky_unlocked=state.sticky_unlocked(),
    )
    state = evaluate_class(MODEL, lowered, T0)
    assert state.module_status("ben", "M4") is Status.UNLOCKED  # sticky: stays open
    assert ("ben", "M4") in state.sticky_unlocked()
    explanation = explain(state, "ben", "M4")
    assert explanation.kept_open_by_sticky and not explanation.rule_holds
    assert state.mastery("ben", "FRAC-1").score == 2.0
    assert state.mastery("ben", "FRAC").score == 2.0
    # Without the remembered unlock the lowered grade locks it again.
    forgotten = ClassFacts(STUDENTS, lowered.evidence, lowered.line_item_scores)
    assert evaluate_class(MODEL, forgotten, T0).module_status("ben", "M4") is Status.LOCKED


def test_choice_is_completed_by_any_option():
    facts = base_facts(completions=[Completion("ana", "M2")])
    state = evaluate_class(MODEL, facts, T0)
    assert state.module_status("ana", "P") is Status.COMPLETED
    more = base_facts(
        completions=[Completion("ana", "M2")],
        evidence=[*facts.evidence, ev("a2", "ana", "FRAC-1", 3.0, days=1)],
    )
    state = evaluate_class(MODEL, more, T0)
    assert state.module_status("ana", "M2") is Status.MASTERED
    assert state.module_status("ana", "P") is Status.MASTERED
    steps = explain(state, "ben", "P").next_steps
    assert [s.text for s in steps] == ["Finish Module 1"]


def test_dates_and_groups():
    facts = base_facts(groups=[GroupMembership("ana", "red")])
    state = evaluate_class(MODEL, facts, T0)
    assert state.module_status("ana", "M5") is Status.LOCKED
    later = evaluate_class(MODEL, facts, MARCH_10)
    assert later.module_status("ana", "M5") is Status.UNLOCKED
    assert later.module_status("ben", "M5") is Status.LOCKED
    both = base_facts(groups=[GroupMembership("ana", "red"), GroupMembership("ben", "red")])
    ben = evaluate_class(MODEL, both, MARCH_10)
    assert ben.module_status("ben", "M5") is Status.UNLOCKED
    steps = explain(state, "ben", "M5").next_steps
    assert [s.text for s in steps] == [
        "Wait until 10 March 2025 at 00:00",
        "Ask your teacher about the group Red team",
    ]


def test_explanation_is_exact():
    state = evaluate_class(MODEL, base_facts(), T0)
    e = explain(state, "ana", "M3")
    assert e.status is Status.LOCKED and not e.rule_holds
    reach, finish = e.condition.children
    assert (reach.holds, reach.current, reach.needed, reach.detail) == (
        False,
        2.6,
        3.0,
        "Near Mastery, 2.6 of 3",
    )
    assert reach.progress == pytest.approx(2.6 / 3)
    assert (finish.holds, finish.current, finish.needed) == (False, "unlocked", "completed")
    assert e.condition.progress == pytest.approx((2.6 / 3) / 2)
    assert [s.text for s in e.next_steps] == [
        "Reach Mastery in Equivalent fractions: you are at Near Mastery, 2.6 of 3",
        "Finish Module 2",
    ]
    open_one = explain(state, "ana", "M2")
    assert open_one.summary == "Unlocked: the unlock conditions are met."
    assert [s.text for s in open_one.next_steps] == [
        "Reach Mastery in Equivalent fractions: you are at Near Mastery, 2.6 of 3",
        "Finish Module 2",
    ]
    quiz = explain(
        evaluate_class(
            build_course(
                [],
                [Module("Q", "Q", unlock=Unlock(LineItemAtLeast("quiz-1", percent=80)))],
                LINE_ITEMS,
            ),
            base_facts(evidence=[]),
            T0,
        ),
        "ana",
        "Q",
    )
    assert quiz.condition.detail == "70% of 80%"
    assert quiz.next_steps[0].text == "Score at least 80% on Quiz 1: you are at 70% of 80%"


def test_a_later_score_changes_only_what_it_reaches():
    state = evaluate_class(MODEL, base_facts(), T0)
    scores = [*base_facts().line_item_scores[:1], LineItemScore("ben", "quiz-1", 6)]
    state2 = evaluate_class(MODEL, base_facts(line_item_scores=scores), T0)
    moved = [
        (m.id, state.module_status("ben", m.id), state2.module_status("ben", m.id))
        for m in MODEL.modules
        if state.module_status("ben", m.id) != state2.module_status("ben", m.id)
    ]
    assert moved == [
        ("M1", Status.UNLOCKED, Status.COMPLETED),
        ("M2", Status.LOCKED, Status.MASTERED),
        ("M3", Status.LOCKED, Status.UNLOCKED),
        ("P", Status.LOCKED, Status.MASTERED),
    ]
    assert state2.scores == state.scores
    # The old state is untouched: states are values.
    assert state.module_status("ben", "M1") is Status.UNLOCKED


def test_bad_input_is_refused_with_the_engines_error():
    def with_evidence(item):
        return base_facts(evidence=[*base_facts().evidence, item])

    with pytest.raises(EvidenceError, match="no student"):
        evaluate_class(MODEL, with_evidence(ev("x", "zoe", "FRAC-1", 3)), T0)
    with pytest.raises(EvidenceError, match="no competency"):
        evaluate_class(MODEL, with_evidence(ev("x", "ana", "NOPE", 3)), T0)
    with pytest.raises(EvidenceError, match="at least 0"):
        evaluate_class(MODEL, with_evidence(ev("x", "ana", "FRAC-1", -1)), T0)
    with pytest.raises(EvidenceError, match="timezone-aware"):
        evaluate_class(
            MODEL, with_evidence(Evidence("x", "ana", "FRAC-1", 3, datetime(2025, 1, 1))), T0
        )
    with pytest.raises(EvidenceError, match="listed twice"):
        evaluate_class(MODEL, ClassFacts(("a", "a")), T0)
    # Scores on line items no rule uses are ignored (AGS returns every column).
    other = base_facts(line_item_scores=[LineItemScore("ana", "other", 3)])
    assert evaluate_class(MODEL, other, T0).module_status("ana", "M1") is Status.UNLOCKED
