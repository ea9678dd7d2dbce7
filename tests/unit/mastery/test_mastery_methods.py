"""Worked examples for every calculation method and parameter edge, checked by hand."""

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
    DecayingAverage,
    Evidence,
    Highest,
    Latest,
    Mode,
    NTimes,
    OrderBy,
    PowerLaw,
    WeightedAverage,
    build_course,
    evaluate_class,
    method_from_json,
    method_to_json,
)
from lti_tool.mastery.evidence import Series
from lti_tool.mastery.model import score_function
from lti_tool.mastery.scales import round_score

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def score(method, scores, min_evidence=1):
    comp = CompetencySpec("C", "C", method=method, min_evidence=min_evidence)
    fn = score_function(comp)
    series = Series.build([(float(i), f"e{i}", float(s)) for i, s in enumerate(scores)])
    value = fn(series)
    return None if value < 0 else value


WORKED = [
    # method, scores (oldest first), expected (rounded half up to 2 decimals)
    (Latest(), [1, 2, 3, 4], 4.0),
    (Latest(), [4, 1], 1.0),
    (Highest(), [1, 4, 2], 4.0),
    (Average(), [1, 2, 3, 4], 2.5),
    (Average(), [1, 2, 2], 1.67),
    (Mode(), [1, 2, 2, 3], 2.0),
    (Mode(), [1, 1, 3, 3], 3.0),  # a tie goes up
    (Mode(), [4, 2.5, 2.5], 2.5),
    (WeightedAverage(0.65), [1, 2, 3, 4], 3.30),  # known answer: .65·4 + .35·mean(1,2,3)
    (WeightedAverage(0.65), [2], 2.0),
    (WeightedAverage(0.5), [2, 4], 3.0),
    (DecayingAverage(0.65), [1, 2, 3, 4], 3.48),  # known answer: 1 → 1.65 → 2.5275 → 3.484625
    (DecayingAverage(0.65), [3], 3.0),
    (DecayingAverage(0.5), [0, 4], 2.0),
    (DecayingAverage(0.99), [0, 0, 4], 3.96),
    (NTimes(2), [3, 1, 4], 3.5),
    (NTimes(3), [3, 1, 4], None),  # only two scores at mastery: no score yet
    (NTimes(1), [2, 2], None),
    (NTimes(2), [3, 3, 2, 4], 3.33),
    (PowerLaw(), [2 * t**0.5 for t in range(1, 5)], 4.0),  # exactly s = 2·t^0.5, so 2·4^0.5
    (PowerLaw(), [0.25 * t**2 for t in range(1, 5)], 4.0),  # exactly 0.25·t², top of the scale
    (PowerLaw(), [1, 3], 2.0),  # fewer than 3: the average
    (PowerLaw(), [2, 2, 2], 2.0),
    (PowerLaw(), [1, 2, 3, 4, 4, 4], 4.0),  # the trend runs past the top: clamped
    (PowerLaw(), [0, 0, 0], 0.04),  # ln 0 does not exist: floored at 1 % of the top
]


@pytest.mark.parametrize(("method", "scores", "expected"), WORKED)
def test_worked_examples(method, scores, expected):
    assert score(method, scores) == expected


def test_bkt_matches_hand_computed_updates():
    bkt = BKT(p_init=0.3, p_transit=0.1, p_guess=0.2, p_slip=0.1)
    # Correct: .3·.9 / (.3·.9 + .7·.2) = .27/.41 = .658537, then + (1 − .658537)·.1 = .692683
    assert bkt.probability((3.0,), DEFAULT_SCALE) == pytest.approx(0.692683, abs=1e-6)
    # Wrong next: .692683·.1 / (.0692683 + .307317·.8) = .219814, then + .780186·.1 = .297833
    assert bkt.probability((3.0, 1.0), DEFAULT_SCALE) == pytest.approx(0.297833, abs=1e-6)
    # Reported score: mastery points × P / 0.95 = 3 × .692683 / .95 = 2.187...
    assert score(bkt, [3]) == 2.19
    assert score(bkt, [3] * 8) == 3.0  # P ≥ 0.95 lands exactly on Mastery, never above


def test_bkt_threshold_decides_what_counts_as_correct():
    lenient = BKT(correct_at=2.0)
    assert lenient.probability((2.0,), DEFAULT_SCALE) > BKT().probability((2.0,), DEFAULT_SCALE)


def test_min_evidence_hides_a_level_until_enough_items():
    assert score(Average(), [4, 4], min_evidence=3) is None
    assert score(Average(), [4, 4, 4], min_evidence=3) == 4.0


def test_rounding_is_half_up_not_to_even():
    assert round_score(2.675) == 2.68  # float 2.675 is 2.67499999..., round() would say 2.67
    assert round_score(3.484625) == 3.48
    assert round_score(0.125) == 0.13


BAD_PARAMETERS = [
    (lambda: WeightedAverage(0.005), "weighted_average.w"),
    (lambda: WeightedAverage(1.0), "weighted_average.w"),
    (lambda: WeightedAverage(True), "weighted_average.w"),
    (lambda: DecayingAverage(0.49), "decaying_average.w"),
    (lambda: DecayingAverage(1.0), "decaying_average.w"),
    (lambda: NTimes(0), "n_times.n"),
    (lambda: NTimes(11), "n_times.n"),
    (lambda: NTimes(2.5), "n_times.n"),
    (lambda: BKT(p_guess=0.0), "bkt.p_guess"),
    (lambda: BKT(p_slip=0.5), "bkt.p_slip"),
    (lambda: BKT(p_init=1.1), "bkt.p_init"),
    (lambda: BKT(p_transit=float("nan")), "bkt.p_transit"),
    (lambda: BKT(mastered_at=0), "bkt.mastered_at"),
    (lambda: method_from_json({"method": "median"}), "method"),
    (lambda: method_from_json({"method": "latest", "w": 1}), "unknown parameter"),
    (lambda: CompetencySpec("C", "C", min_evidence=0), "min_evidence"),
]


@pytest.mark.parametrize(("build", "message"), BAD_PARAMETERS)
def test_parameters_are_validated(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_parameter_edges_are_accepted():
    WeightedAverage(0.01), WeightedAverage(0.99), DecayingAverage(0.5), DecayingAverage(0.99)
    NTimes(1), NTimes(10), BKT(p_init=0, p_transit=1, p_guess=0.49, p_slip=0.01)


def test_methods_round_trip_through_json():
    for method in (Latest(), Mode(), WeightedAverage(0.7), NTimes(4), BKT(p_init=0.4)):
        assert method_from_json(method_to_json(method)) == method


def test_evidence_is_ordered_by_the_chosen_time():
    # Graded in the order 4 then 1, but handed in the order 1 then 4.
    items = [
        Evidence("a", "s", "C", 4, T0, submitted_at=T0 + timedelta(days=2)),
        Evidence("b", "s", "C", 1, T0 + timedelta(days=1), submitted_at=T0 + timedelta(days=1)),
    ]
    results = {}
    for order_by in OrderBy:
        model = build_course([CompetencySpec("C", "C", method=Latest(), order_by=order_by)], [])
        state = evaluate_class(model, ClassFacts(("s",), items), T0 + timedelta(days=3))
        results[order_by] = state.score("s", "C")
    assert results == {OrderBy.GRADED: 1.0, OrderBy.SUBMITTED: 4.0}


def test_same_time_is_ordered_by_id_so_results_are_deterministic():
    items = [Evidence("b", "s", "C", 1, T0), Evidence("a", "s", "C", 4, T0)]
    model = build_course([CompetencySpec("C", "C", method=Latest())], [])
    assert evaluate_class(model, ClassFacts(("s",), items), T0).score("s", "C") == 1.0
    assert evaluate_class(model, ClassFacts(("s",), items[::-1]), T0).score("s", "C") == 1.0
