"""The rule builder's form and the engine's JSON agree, and engine paths land on the right node."""

from __future__ import annotations

from lti_tool.mastery import Catalog, CompetencySpec, Module, parse_unlock, render
from lti_tool.mastery.rules import KINDS
from lti_tool.services.setup_rules import (
    GROUPS,
    KIND_LABELS,
    LEAVES,
    Defaults,
    apply_op,
    chain_rules,
    from_form,
    locate,
    paths,
)

D = Defaults(module="1", competency="FRAC-1", level="Mastery", when="2025-03-01T00:00:00Z")
CATALOG = Catalog.of([CompetencySpec("FRAC-1", "Equivalent fractions")], [Module("1", "Module 1")])


def test_form_becomes_the_rule_a_teacher_read_as_a_sentence() -> None:
    form = {
        "r.was": "any",
        "r.n": "2",
        "r-0.was": "competency",
        "r-0.competency": "FRAC-1",
        "r-0.target": "score",
        "r-0.score": "2.5",
        "r-1.was": "on_or_after",
        "r-1.when": "2025-03-01T08:30",
    }
    rule = from_form(form, D)
    assert rule == {
        "any": [{"competency": "FRAC-1", "score": 2.5}, {"on_or_after": "2025-03-01T08:30:00Z"}]
    }
    sentence = render(parse_unlock({"rule": rule}, CATALOG), CATALOG)
    assert sentence == (
        "Unlocks when you reach a score of 2.5 in Equivalent fractions "
        "or it is 1 March 2025 at 08:30 or later (times in UTC)"
    )


def test_a_changed_kind_keeps_what_fits() -> None:
    leaf = {"r.was": "module_completed", "r.kind": "all", "r.module": "1"}
    assert from_form(leaf, D) == {"all": [{"module_completed": "1"}]}
    group = {"r.was": "all", "r.kind": "at_least", "r.n": "1", "r-0.was": "group", "r-0.group": "g"}
    assert from_form(group, D) == {"at_least": {"k": 1, "of": [{"group": "g"}]}}


def test_typed_nonsense_reaches_the_engine_to_be_named() -> None:
    form = {"r.was": "line_item", "r.line_item": "7", "r.measure": "points", "r.amount": "lots"}
    assert from_form(form, D) == {"line_item": "7", "points": "lots"}


def test_buttons_add_wrap_and_remove_conditions() -> None:
    rule = apply_op(None, "start", {"r.add": "module_completed"}, D)
    assert rule == {"module_completed": "1"}
    rule = apply_op(rule, "add:r", {"r.add": "competency"}, D)
    assert rule == {
        "all": [{"module_completed": "1"}, {"competency": "FRAC-1", "level": "Mastery"}]
    }
    rule = apply_op(rule, "remove:r-0", {}, D)
    assert rule == {"all": [{"competency": "FRAC-1", "level": "Mastery"}]}
    assert apply_op(rule, "remove:r", {}, D) is None


def test_engine_paths_point_at_builder_nodes() -> None:
    assert locate("rule.all[2].competency") == ("r-2", "competency")
    assert locate("rule.any[0].at_least.of[1].not.level") == ("r-0-1-0", "level")
    assert locate("rule.at_least.k") == ("r", "at_least.k")
    assert locate("mode") == (None, "mode")
    assert paths({"all": [{"group": "a"}, {"not": {"group": "b"}}]}) == ["r", "r-0", "r-1", "r-1-0"]


def test_chain_follows_the_order_and_shares_a_choices_rule_with_its_options() -> None:
    docs = chain_rules(["1", "2", "3", "4", "5"], {"4": ["2", "3"]}, can_master={"1", "4"})
    assert docs["1"]["rule"] is None
    assert docs["4"]["rule"] == {"module_mastered": "1"}
    assert docs["2"]["rule"] == docs["3"]["rule"] == {"module_mastered": "1"}
    assert docs["5"]["rule"] == {"module_mastered": "4"}


def test_the_builder_offers_exactly_the_engines_vocabulary() -> None:
    assert sorted(KIND_LABELS) == sorted(KINDS)
    assert GROUPS == ("all", "any", "at_least", "not")
    assert set(LEAVES) == set(KINDS) - set(GROUPS)
