"""What students, mentors and teachers read, on edge values, as exact sentences: no score yet,
exactly at a threshold, past the scale's top, 1 and several, "any" and k-of-n rules, nested
`not`, dates, numbers that Python would write in scientific notation, below the lowest level,
evidence on a "No Evidence" level, the third person, and a choice whose options are locked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lti_tool.mastery import (
    AllOf,
    AnyOf,
    AtLeastOf,
    ClassFacts,
    CompetencyAtLeast,
    CompetencySpec,
    Evidence,
    GroupMembership,
    InGroup,
    Latest,
    Level,
    LineItem,
    LineItemAtLeast,
    LineItemScore,
    Module,
    ModuleCompleted,
    Not,
    OnOrAfter,
    Override,
    OverrideKind,
    Scale,
    Status,
    Unlock,
    build_course,
    evaluate_class,
    explain,
)
from lti_tool.mastery.rule_render import YOU, Reader, format_day, level_label, number, points
from lti_tool.mastery.scales import DEFAULT_SCALE
from lti_tool.services.student_view import CompetencyLine

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MARCH_10 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
MEETS = Scale(
    (
        Level("Exceeds", 4.0, "#0374B5"),
        Level("Meets", 3.0, "#0B874B", mastery=True),
        Level("Approaching", 2.0, "#FAB901"),
    )
)

FINISH_A = ModuleCompleted("A")
QUIZ_6 = LineItemAtLeast("quiz", points=6)
QUIZ_1 = LineItemAtLeast("quiz", points=1)
REACH = CompetencyAtLeast("FRAC", level="Mastery")
REACH_MEETS = CompetencyAtLeast("MEET", level="Meets")
RED = InGroup("red")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1, "1"),
        (2.5, "2.5"),
        (3.14159, "3.14"),
        (3.0000001, "3"),
        (1e-7, "0.0000001"),
        (0.0042, "0.0042"),
        (1e-300, "almost 0"),
        (1234.5, "1,234.5"),
        (1e21, "1,000,000,000,000,000,000,000"),
        (1e23, "100,000,000,000,000,000,000,000"),
        (-0.001, "-0.001"),
    ],
)
def test_numbers_are_plain_decimals(value, text):
    assert number(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(1, "1 point"), (2, "2 points"), (0.5, "0.5 points"), (0, "0 points")]
)
def test_points_agree_in_number(value, text):
    assert points(value) == text


def test_a_day_is_written_as_a_school_writes_it():
    assert format_day(MARCH_10) == "10 March 2025"


def _explain(rule, *, score=None, comp="FRAC", quiz=None, groups=(), reader=YOU, extra=()):
    """Module "T" behind `rule`, for one student with one score and one quiz result."""
    comps = [
        CompetencySpec("FRAC", "Fractions", method=Latest()),
        CompetencySpec("MEET", "Measuring", scale=MEETS, method=Latest()),
    ]
    modules = [
        Module("A", "Module A"),
        Module("B", "Module B", competencies=("FRAC",)),
        Module("T", "Target", unlock=Unlock(rule)),
        *extra,
    ]
    model = build_course(comps, modules, [LineItem("quiz", "Quiz", 6)], groups={"red": "Red team"})
    facts = ClassFacts(
        ("s",),
        evidence=[Evidence("e", "s", comp, score, T0)] if score is not None else [],
        line_item_scores=[LineItemScore("s", "quiz", quiz)] if quiz is not None else [],
        groups=[GroupMembership("s", g) for g in groups],
    )
    state = evaluate_class(model, facts, T0)
    return state, explain(state, "s", "T", reader)


def _lines(cond):
    out = [(cond.text, cond.detail if not cond.children else "")]
    for child in cond.children:
        out.extend(_lines(child))
    return out


def test_points_are_said_once_and_agree_in_number():
    _, why = _explain(QUIZ_6, quiz=1)
    assert why.condition.detail == "1 of 6 points"
    assert why.next_steps[0].text == "Score at least 6 points on Quiz: you are at 1 of 6 points"
    _, why = _explain(QUIZ_1, quiz=0.5)
    assert why.condition.detail == "0.5 of 1 point"
    _, why = _explain(QUIZ_6)
    assert why.condition.detail == "no score yet, 6 points needed"
    assert why.next_steps[0].text == "Score at least 6 points on Quiz: you have no score yet"


def test_exactly_at_the_threshold_holds_and_says_so():
    _, why = _explain(QUIZ_6, quiz=6)
    assert why.status is Status.UNLOCKED and why.condition.detail == "6 points (6 needed)"
    _, why = _explain(REACH, score=3)
    assert why.condition.detail == "Mastery, 3 (3 needed)"
    _, why = _explain(REACH, score=3.6)
    assert why.condition.detail == "Mastery, 3.6 (3 needed)"  # never "3.6 of 3"


def test_an_untried_competency_has_no_score_yet():
    state, _ = _explain(None)
    steps = [s.text for s in explain(state, "s", "B").next_steps]
    assert steps == ["Finish Module B", "Reach Mastery in Fractions: you have no score yet"]
    _, why = _explain(REACH)
    assert why.condition.detail == "no score yet, 3 needed"


def test_below_the_lowest_level_is_not_named_after_it():
    _, why = _explain(REACH_MEETS, score=1, comp="MEET")
    assert why.condition.detail == "Below Approaching, 1 of 3"
    assert why.next_steps[0].text == (
        "Reach Meets in Measuring: you are below Approaching, at 1 of 3"
    )
    assert level_label(MEETS, 1) == "Below Approaching"
    assert level_label(MEETS, 2) == "Approaching"


def test_a_student_with_evidence_is_never_labelled_no_evidence():
    _, why = _explain(REACH, score=0.52)
    assert why.condition.detail == "Some evidence, 0.52 of 3"
    assert why.next_steps[0].text == (
        "Reach Mastery in Fractions: you have some evidence, 0.52 of 3"
    )
    assert level_label(DEFAULT_SCALE, 0.52) == "Some evidence"
    assert level_label(DEFAULT_SCALE, None) is None


def test_the_profile_shows_a_score_out_of_the_scales_top():
    def line(score):
        return CompetencyLine(1, "F", "Fractions", "", score, None, None, "", False, 3, 4, ())

    assert line(3.6).shown_score == "3.6 of 4"
    assert line(5).shown_score == "4 of 4"  # past the top: the top
    assert line(1e-7).shown_score == "0.0000001 of 4"
    assert line(None).shown_score == ""


@pytest.mark.parametrize(
    ("rule", "facts", "summary"),
    [
        (
            AnyOf((FINISH_A, QUIZ_6)),
            {},
            "Locked: none of the conditions below is met yet; any one of them opens it.",
        ),
        (
            AllOf((QUIZ_1, QUIZ_6)),
            {"quiz": 2},
            "Locked: 1 of the 2 conditions below is met; all are needed.",
        ),
        (
            AllOf((QUIZ_1, QUIZ_6)),
            {},
            "Locked: none of the 2 conditions below is met yet; all are needed.",
        ),
        (
            AtLeastOf(2, (QUIZ_1, QUIZ_6, RED)),
            {"quiz": 2},
            "Locked: 1 of the 3 conditions below is met; 2 are needed.",
        ),
        (QUIZ_6, {}, "Locked: the condition below is not met yet."),
        (Not(RED), {"groups": ("red",)}, "Locked: the condition below is not met yet."),
    ],
)
def test_a_locked_summary_says_what_the_rule_needs(rule, facts, summary):
    _, why = _explain(rule, **facts)
    assert why.status is Status.LOCKED and why.summary == summary


def test_k_of_n_reads_in_words():
    _, why = _explain(AtLeastOf(2, (FINISH_A, QUIZ_6, RED)))
    assert why.condition.text == (
        "at least 2 of these hold: you finish Module A; you score at least 6 points on Quiz; "
        "you are in the group Red team"
    )
    _, why = _explain(AtLeastOf(1, (FINISH_A, QUIZ_6)))  # "at least 1 of" is "or"
    assert why.condition.text == "you finish Module A or score at least 6 points on Quiz"
    assert "at least 1 of" not in str(_lines(why.condition))


def test_nested_not_reads_without_double_negatives():
    rule = Not(AnyOf((Not(RED), FINISH_A)))
    _, why = _explain(rule, groups=("red",))
    assert why.status is Status.UNLOCKED
    assert _lines(why.condition) == [
        ("you are in the group Red team and have not finished Module A", ""),
        ("you are in the group Red team", "you are in it"),
        ("you have not finished Module A", "unlocked, completed needed"),
    ]
    _, why = _explain(Not(Not(QUIZ_1)), quiz=2)
    assert _lines(why.condition) == [("you score at least 1 point on Quiz", "2 points (1 needed)")]


def test_dates_have_no_zone_or_comma_inside_a_list():
    rule = AllOf((FINISH_A, OnOrAfter(MARCH_10), RED))
    _, why = _explain(rule, groups=("red",))
    assert why.condition.text == (
        "you finish Module A, it is 10 March 2025 at 14:00 or later and you are in the group "
        "Red team"
    )
    assert ("it is 10 March 2025 at 14:00 or later", "now 1 March 2025 at 12:00") in _lines(
        why.condition
    )
    assert "Wait until 10 March 2025 at 14:00" in [s.text for s in why.next_steps]
    assert "UTC" not in str(_lines(why.condition))


def test_a_teacher_or_mentor_reads_about_the_student_by_name():
    ava = Reader("Ava")
    state, why = _explain(AllOf((FINISH_A, REACH)), score=2.6, reader=ava)
    assert why.condition.text == "Ava finishes Module A and reaches Mastery in Fractions"
    assert sorted(s.text for s in why.next_steps) == [
        "Finish Module A",
        "Reach Mastery in Fractions: Ava is at Near Mastery, 2.6 of 3",
    ]
    _, why = _explain(AnyOf((RED, Not(QUIZ_1))), quiz=3, reader=ava)
    assert [t for t, _ in _lines(why.condition)] == [
        "Ava is in the group Red team or has not scored at least 1 point on Quiz",
        "Ava is in the group Red team",
        "Ava has not scored at least 1 point on Quiz",
    ]
    assert "Ask the teacher about the group Red team" in [s.text for s in why.next_steps]
    steps = [s.text for s in explain(state, "s", "B", ava).next_steps]
    assert "you" not in " ".join(steps).lower().split()
    _, why = _explain(REACH, reader=ava)
    assert why.next_steps[0].text == "Reach Mastery in Fractions: Ava has no score yet"


def test_an_override_names_the_student_for_others():
    comps = [CompetencySpec("FRAC", "Fractions", method=Latest())]
    model = build_course(comps, [Module("T", "Target", unlock=Unlock(REACH))], [])
    facts = ClassFacts(("s",), overrides=[Override("s", "T", OverrideKind.EXEMPT)])
    state = evaluate_class(model, facts, T0)
    assert explain(state, "s", "T").summary == "Exempt: your teacher excused you from this module."
    assert explain(state, "s", "T", Reader("Ava")).summary == (
        "Exempt: the teacher excused Ava from this module."
    )


def _choice(quiz=None):
    options = (
        Module("O1", "Pictures", unlock=Unlock(QUIZ_6)),
        Module("O2", "Numbers", unlock=Unlock(QUIZ_1)),
        Module("C", "Pick a path", choice_of=("O1", "O2")),
    )
    return _explain(None, quiz=quiz, extra=options)[0]


def test_a_choice_whose_options_are_all_locked_is_locked():
    state = _choice()
    why = explain(state, "s", "C")
    assert why.status is Status.LOCKED is state.module_status("s", "C")
    assert why.summary == "Locked: none of its options is open yet."
    assert [s.text for s in why.next_steps] == [
        "To open Pictures: Score at least 6 points on Quiz: you have no score yet",
        "To open Numbers: Score at least 1 point on Quiz: you have no score yet",
    ]


def test_a_choice_is_open_when_one_option_can_be_opened():
    state = _choice(quiz=2)  # Numbers opens at 1 point, Pictures at 6
    why = explain(state, "s", "C")
    assert why.status is Status.UNLOCKED is state.module_status("s", "C")
    assert why.summary == "Unlocked: 1 of its 2 options is open."
    assert why.next_steps[0].text == "Finish any one of: Pictures, Numbers"


def test_a_student_the_lms_gave_no_name_is_the_student():
    from lti_tool.services.student_view import _reader

    assert _reader(None) == Reader()  # the student: "you"
    assert _reader("  ").subject == "the student"
    _, why = _explain(REACH, reader=_reader(""))
    assert why.next_steps[0].text == "Reach Mastery in Fractions: the student has no score yet"
