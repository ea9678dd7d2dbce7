"""Edges outside testing broke (issue 10, items 13 and 14): a score rounded into a level it did
not reach, numbers too large for a float, naive times, and evidence kept as it was observed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lti_tool.mastery import (
    BKT,
    DEFAULT_SCALE,
    Average,
    ClassFacts,
    CompetencySpec,
    ConfigError,
    Evidence,
    EvidenceError,
    Level,
    LineItem,
    LineItemScore,
    Module,
    OnOrAfter,
    RuleError,
    Scale,
    Unlock,
    build_course,
    evaluate_class,
    method_from_json,
    parse_unlock,
)
from lti_tool.mastery.catalog import Catalog

T0 = datetime(2025, 3, 1, tzinfo=UTC)
THREE_STEPS = Scale(
    (
        Level("Secure", 2, "#0B874B", mastery=True),
        Level("Developing", 1, "#FAB901"),
        Level("Not yet", 0, "#E0061F"),
    )
)


def one(method=None, scale=DEFAULT_SCALE, evidence=()):
    comp = CompetencySpec("C", "Fractions", scale=scale, **({"method": method} if method else {}))
    model = build_course([comp], [])
    return evaluate_class(model, ClassFacts(("s",), list(evidence)), T0).mastery("s", "C")


def test_bkt_below_the_mastery_probability_is_not_mastery():
    # One correct answer from p_init 0.80526 leaves P(learned) just under 0.95: 0.949.
    bkt = BKT(p_init=0.80526, p_transit=0.0, p_guess=0.2, p_slip=0.1)
    p = bkt.probability((3.0,), DEFAULT_SCALE)
    assert 0.9484 <= p < 0.95
    result = one(bkt, evidence=[Evidence("e", "s", "C", 3, T0)])
    assert not result.mastered
    assert result.level.name == "Near Mastery"
    assert result.score == 2.99  # rounded down: 3.00 would claim the level it did not reach


def test_rounding_never_lifts_an_average_into_the_next_level():
    result = one(
        Average(), evidence=[Evidence("a", "s", "C", 3, T0), Evidence("b", "s", "C", 2.99, T0)]
    )
    assert result.score == 2.99 and result.level.name == "Near Mastery" and not result.mastered
    # ...while a score that reached the level keeps its ordinary rounding.
    result = one(
        Average(), evidence=[Evidence("a", "s", "C", 3, T0), Evidence("b", "s", "C", 3.01, T0)]
    )
    assert result.score == 3.01 and result.mastered


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"competency": "C", "score": 2**1024}, "rule.score"),
        ({"competency": "C", "score": -(2**1024)}, "rule.score"),
        ({"line_item": "L", "points": 2**1024}, "rule.points"),
        ({"line_item": "L", "percent": 10**400}, "rule.percent"),
        ({"at_least": {"k": 10**5000, "of": [{"group": "g"}]}}, "rule.at_least.k"),
    ],
)
def test_huge_rule_numbers_are_a_rule_error_with_a_path(rule, path):
    catalog = Catalog.of([CompetencySpec("C", "Fractions")], [], [LineItem("L", "Quiz", 10)])
    with pytest.raises(RuleError) as caught:
        parse_unlock({"rule": rule}, catalog)
    assert caught.value.path == path
    assert len(str(caught.value)) < 200


def test_huge_rule_numbers_in_json_text_are_a_rule_error():
    catalog = Catalog.of([CompetencySpec("C", "Fractions")], [])
    text = '{"rule": {"competency": "C", "score": 1' + "0" * 400 + "}}"
    with pytest.raises(RuleError) as caught:
        parse_unlock(text, catalog)
    assert caught.value.path == "rule.score" and "more than the maximum" in caught.value.message


@pytest.mark.parametrize(
    "make",
    [
        lambda: method_from_json({"method": "decaying_average", "w": 2**1024}),
        lambda: method_from_json({"method": "bkt", "correct_at": -(2**1024)}),
        lambda: LineItem("L", "Quiz", 2**1024),
        lambda: Scale((Level("Top", 2**1024, "#000000", mastery=True),)),
    ],
)
def test_huge_numbers_in_a_setup_are_a_config_error(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize(
    "score", [10**400, 2**1024, 1e308, 5e-324, 0, 2**53 + 1, 4, 4.000000001, 1e30]
)
def test_evidence_of_any_size_is_capped_at_the_top_never_a_crash(score):
    items = [Evidence("a", "s", "C", score, T0), Evidence("b", "s", "C", score, T0)]
    result = one(Average(), evidence=items)
    assert 0.0 <= result.score <= DEFAULT_SCALE.top_points


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -1, -(10**400), True, "3", None])
def test_unusable_evidence_is_refused_with_the_engines_error(score):
    with pytest.raises(EvidenceError, match="score"):
        one(evidence=[Evidence("a", "s", "C", score, T0)])


@pytest.mark.parametrize("out_of", [0, -4, float("nan"), float("inf"), True, "4"])
def test_an_unusable_maximum_is_refused(out_of):
    with pytest.raises(EvidenceError, match="out_of"):
        Evidence("a", "s", "C", 3, T0, out_of=out_of)


def test_huge_line_item_points_are_no_crash():
    model = build_course(
        [CompetencySpec("C", "Fractions")],
        [
            Module(
                "M",
                "M",
                Unlock(
                    parse_unlock(
                        {"rule": {"line_item": "L", "points": 5}},
                        Catalog.of(
                            [CompetencySpec("C", "Fractions")],
                            [Module("M", "M")],
                            [LineItem("L", "Q", 10)],
                        ),
                    ).rule
                ),
            )
        ],
        [LineItem("L", "Q", 10)],
    )
    state = evaluate_class(model, ClassFacts(("s",), (), [LineItemScore("s", "L", 10**400)]), T0)
    assert state.module_status("s", "M").name == "UNLOCKED"


def test_naive_times_are_refused_wherever_they_come_in():
    naive = datetime(2025, 3, 1)
    with pytest.raises(EvidenceError, match="timezone-aware"):
        Evidence("a", "s", "C", 3, naive)
    with pytest.raises(EvidenceError, match="timezone-aware"):
        Evidence("a", "s", "C", 3, T0, submitted_at=naive)  # even when ordered by graded time
    with pytest.raises(RuleError, match="time zone"):
        OnOrAfter(naive)
    with pytest.raises(EvidenceError, match="timezone-aware"):
        evaluate_class(
            build_course([CompetencySpec("C", "Fractions")], []), ClassFacts(("s",)), naive
        )


def test_evidence_observed_on_another_scale_is_converted_proportionally():
    # A rating of 3 given on Canvas' 0–4 scale, read by a competency now on "three steps".
    rating = Evidence("r", "s", "C", 3, T0, out_of=4)
    result = one(scale=THREE_STEPS, evidence=[rating])
    assert result.score == 1.5 and result.level.name == "Developing"
    # A grade above its column's maximum tops out at the scale's top.
    result = one(scale=THREE_STEPS, evidence=[Evidence("g", "s", "C", 12, T0, out_of=10)])
    assert result.score == 2.0
    # Extreme ratios stay on the scale.
    tiny = Evidence("t", "s", "C", 1e308, T0 + timedelta(1), out_of=5e-324)
    assert one(scale=THREE_STEPS, evidence=[tiny]).score == 2.0
    assert (
        one(scale=THREE_STEPS, evidence=[Evidence("z", "s", "C", 5e-324, T0, out_of=1e308)]).score
        == 0.0
    )
