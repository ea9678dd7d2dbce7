"""Scales, grade mapping and roll-up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lti_tool.mastery import (
    DEFAULT_SCALE,
    ClassFacts,
    CompetencySpec,
    ConfigError,
    Evidence,
    Latest,
    Level,
    RollUp,
    Scale,
    build_course,
    evaluate_class,
)

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def test_default_scale_is_canvas_default():
    assert [(lv.name, lv.points) for lv in DEFAULT_SCALE.levels] == [
        ("Exceeds Mastery", 4),
        ("Mastery", 3),
        ("Near Mastery", 2),
        ("Below Mastery", 1),
        ("No Evidence", 0),
    ]
    assert DEFAULT_SCALE.mastery_level.name == "Mastery"


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (4.0, "Exceeds Mastery"),
        (3.0, "Mastery"),
        (2.99, "Near Mastery"),
        (2.6, "Near Mastery"),
        (1.0, "Below Mastery"),
        (0.5, "No Evidence"),
        (0.0, "No Evidence"),
        (9.0, "Exceeds Mastery"),
    ],
)
def test_score_maps_to_level(score, level):
    assert DEFAULT_SCALE.level_for(score).name == level


def test_no_score_has_no_level():
    assert DEFAULT_SCALE.level_for(None) is None


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ((), "at least one level"),
        ((Level("A", 2, "#000000"), Level("B", 1, "#000000")), "exactly one"),
        ((Level("A", 2, "#000000", True), Level("B", 1, "#000000", True)), "exactly one"),
        ((Level("A", 2, "#000000", True), Level("B", 2, "#000000")), "strictly decrease"),
        ((Level("A", 1, "#000000", True), Level("B", 2, "#000000")), "strictly decrease"),
        ((Level("A", 2, "green", True),), "colour"),
        ((Level("", 2, "#000000", True),), "name"),
        ((Level("A", 2, "#000000", True), Level("A", 1, "#000000")), "twice"),
        ((Level("A", -1, "#000000", True),), "at least 0"),
    ],
)
def test_bad_scales_are_refused(levels, message):
    with pytest.raises(ConfigError, match=message):
        Scale(levels)


def test_percent_and_points_map_onto_the_scale():
    assert DEFAULT_SCALE.from_percent(75) == 3.0
    assert DEFAULT_SCALE.from_percent(120) == 4.0  # extra credit tops out
    assert DEFAULT_SCALE.from_points(8, 10) == pytest.approx(3.2)
    five = Scale(
        (Level("Top", 5, "#000000"), Level("Pass", 3, "#111111", True), Level("Low", 0, "#222222"))
    )
    assert five.from_percent(60) == 3.0
    with pytest.raises(ConfigError):
        DEFAULT_SCALE.from_points(1, 0)


def class_with(rollup, scores):
    comps = [CompetencySpec("P", "Parent", rollup=rollup)] + [
        CompetencySpec(code, code, parent="P", method=Latest()) for code in ("A", "B", "C")
    ]
    model = build_course(comps, [])
    evidence = [Evidence(f"e{code}", "s", code, s, T0) for code, s in scores.items()]
    return evaluate_class(model, ClassFacts(("s",), evidence), T0)


def test_rollup_average_minimum_weighted():
    scores = {"A": 4, "B": 2, "C": 3}
    assert class_with(RollUp(), scores).score("s", "P") == 3.0
    assert class_with(RollUp("minimum"), scores).score("s", "P") == 2.0
    weighted = RollUp("weighted", weights={"A": 2, "B": 1, "C": 1})
    assert class_with(weighted, scores).score("s", "P") == 3.25  # (8 + 2 + 3) / 4


def test_rollup_leaves_out_children_without_a_score():
    assert class_with(RollUp(), {"A": 4, "B": 2}).score("s", "P") == 3.0
    assert class_with(RollUp(), {}).score("s", "P") is None


def test_required_child_below_mastery_caps_the_parent():
    rollup = RollUp("weighted", weights={"A": 1, "B": 1, "C": 1}, required=("B",))
    state = class_with(rollup, {"A": 4, "B": 2, "C": 4})  # mean 3.33, but B is not mastered
    result = state.mastery("s", "P")
    assert result.score == 2.0 and result.level.name == "Near Mastery"
    assert not result.mastered and result.capped_by == ("B",)
    assert class_with(rollup, {"A": 4, "B": 3, "C": 4}).mastery("s", "P").mastered


def test_rollup_refuses_unknown_children_and_bad_weights():
    with pytest.raises(ConfigError, match="not a child"):
        class_with(RollUp(required=("Z",)), {})
    with pytest.raises(ConfigError, match="more than 0"):
        RollUp("weighted", weights={"A": 0})
    with pytest.raises(ConfigError, match="only a weighted"):
        RollUp("average", weights={"A": 1})


def test_competency_cycles_are_refused():
    with pytest.raises(ConfigError, match="A → B → A"):
        build_course(
            [CompetencySpec("A", "A", parent="B"), CompetencySpec("B", "B", parent="A")], []
        )
