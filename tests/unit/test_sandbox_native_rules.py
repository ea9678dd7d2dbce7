"""The LMSs' own gating rules as the sandbox evaluates them (lti_tool/sandbox/native.py): Moodle's
grade condition with its inclusive minimum, exclusive maximum and eye, and Canvas' progressions
with min_score, post policy, prerequisites and unlocks that stay."""

from __future__ import annotations

from lti_tool.sandbox.native import (
    Grade,
    GradeCondition,
    MinScore,
    Module,
    canvas_progressions,
    lock_explanation,
    min_score_text,
    moodle_availability,
    prerequisites_text,
)

COMPETENCY = 7


def at_least(percent: float, shown: bool = True, below: float | None = None) -> GradeCondition:
    return GradeCondition(COMPETENCY, "Competency: Fractions", percent, below, shown)


def grade(points: float | None, maximum: float = 4, posted: bool = True) -> dict[int, Grade]:
    return {COMPETENCY: Grade(points, maximum, posted)}


def test_moodle_minimum_is_inclusive_and_a_missing_grade_never_passes() -> None:
    rule = [at_least(75)]
    assert not moodle_availability(rule, {}).available
    assert not moodle_availability(rule, grade(None)).available
    assert not moodle_availability(rule, grade(2.32)).available  # 58 %
    assert moodle_availability(rule, grade(3)).available  # exactly 75 %
    said = moodle_availability(rule, grade(2.99))
    assert said.visible and said.reasons == (
        "You achieve higher than a certain score in Competency: Fractions",
    )


def test_moodle_maximum_is_exclusive_and_every_condition_must_hold() -> None:
    band = [at_least(50, below=75)]
    assert moodle_availability(band, grade(2)).available
    assert not moodle_availability(band, grade(3)).available
    assert moodle_availability(band, grade(3)).reasons == (
        "You achieve a score within a certain range in Competency: Fractions",
    )
    other = GradeCondition(8, "Quiz 1", 50, None)
    both = moodle_availability([at_least(75), other], {**grade(4), 8: Grade(1, 10)})
    assert not both.available and both.reasons == (
        "You achieve higher than a certain score in Quiz 1",
    )


def test_moodle_closed_eye_on_a_failed_condition_hides_the_activity() -> None:
    hidden = moodle_availability([at_least(75, shown=False)], grade(1))
    assert not hidden.available and not hidden.visible and hidden.reasons == ()
    # an eye closed on a condition that holds hides nothing
    shown_fails = GradeCondition(8, "Quiz 1", 50, None)
    mixed = moodle_availability([at_least(25, shown=False), shown_fails], grade(2))
    assert mixed.visible and not mixed.available


def test_moodle_missing_grade_item_is_never_met() -> None:
    gone = GradeCondition(None, "(missing activity)", 0, None)
    assert moodle_availability([gone], grade(4)).reasons == (
        "You achieve higher than a certain score in (missing activity)",
    )


def two_modules(requirement: MinScore) -> list[Module]:
    return [
        Module(1, "Equivalent fractions", (), (requirement,)),
        Module(2, "Comparing fractions", (1,)),
    ]


def test_canvas_prerequisite_needs_a_posted_score_of_at_least_min_score() -> None:
    modules = two_modules(MinScore(10, COMPETENCY, 3))
    assert canvas_progressions(modules, {})[2].locked
    assert canvas_progressions(modules, grade(2.32))[2].locked
    assert canvas_progressions(modules, grade(3, posted=False))[2].locked
    opened = canvas_progressions(modules, grade(3))
    assert opened[1].completed and opened[1].status == "Completed"
    assert not opened[2].locked and opened[2].newly_unlocked and opened[2].status == "Completed"
    # Canvas counts a score a hair from a whole number as that number
    assert not canvas_progressions(modules, grade(2.9999999))[2].locked
    assert canvas_progressions(modules, grade(2.9999))[2].locked


def test_canvas_unlocked_module_stays_unlocked_when_the_score_drops() -> None:
    modules = two_modules(MinScore(10, COMPETENCY, 3))
    after = canvas_progressions(modules, grade(1), unlocked={2})
    assert not after[1].completed and after[1].status == ""
    assert not after[2].locked and not after[2].newly_unlocked


def test_canvas_prerequisites_chain_and_awaited_or_deleted_columns() -> None:
    chain = [
        Module(1, "A", (), (MinScore(10, COMPETENCY, 3),)),
        Module(2, "B", (1,)),
        Module(3, "C", (2,)),
    ]
    assert canvas_progressions(chain, {})[3].locked
    assert not canvas_progressions(chain, grade(4))[3].locked
    awaited = two_modules(MinScore(10, None, 1))
    assert canvas_progressions(awaited, grade(4))[2].locked
    deleted = two_modules(MinScore(10, None, 1, gone=True))
    assert not canvas_progressions(deleted, {})[2].locked  # Canvas skips a deleted item
    cycle = [Module(1, "A", (2,)), Module(2, "B", (1,))]
    assert all(p.locked for p in canvas_progressions(cycle, {}).values())


def test_canvas_words() -> None:
    assert prerequisites_text(["A"]) == "Prerequisite: A"
    assert prerequisites_text(["A", "B"]) == "Prerequisites: A, B"
    assert min_score_text(3, completed=False) == "Score at least 3.0"
    assert min_score_text(3, completed=True) == "Scored at least 3.0"
    assert lock_explanation("page", "B") == (
        "This page is part of the module B and hasn't been unlocked yet."
    )
