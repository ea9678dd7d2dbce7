"""Rules: JSON parsing with pointed errors, cycles, and the sentences teachers and students read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lti_tool.mastery import (
    RULE_SCHEMA,
    AllOf,
    AnyOf,
    AtLeastOf,
    Catalog,
    CompetencyAtLeast,
    CompetencySpec,
    InGroup,
    LineItem,
    LineItemAtLeast,
    Module,
    ModuleCompleted,
    ModuleMastered,
    Not,
    OnOrAfter,
    RuleError,
    Unlock,
    UnlockMode,
    build_course,
    parse_unlock,
    render,
    render_outline,
    unlock_to_json,
)

COMPETENCIES = [
    CompetencySpec("FRAC-1", "Equivalent fractions"),
    CompetencySpec("FRAC-2", "Adding fractions"),
]
MODULES = [Module("M1", "Module 1"), Module("M2", "Module 2"), Module("M5", "Module 5")]
LINE_ITEMS = [LineItem("quiz-1", "Quiz 1", 10)]
CATALOG = Catalog.of(COMPETENCIES, MODULES, LINE_ITEMS, groups={"red": "Red team"})


def parse(rule, mode=None, module=None):
    doc = {"rule": rule} if mode is None else {"mode": mode, "rule": rule}
    return parse_unlock(doc, CATALOG, module=module)


def test_a_full_rule_parses_to_the_tree():
    unlock = parse(
        {
            "all": [
                {"competency": "FRAC-1", "level": "Mastery"},
                {"module_completed": "M2"},
                {"any": [{"line_item": "quiz-1", "percent": 80}, {"group": "red"}]},
                {"not": {"module_mastered": "M5"}},
                {"at_least": {"k": 1, "of": [{"on_or_after": "2025-03-01T00:00:00Z"}]}},
                {"competency": "FRAC-2", "score": 2.5},
                {"line_item": "quiz-1", "points": 8},
            ]
        },
        mode="sticky",
    )
    assert unlock.mode is UnlockMode.STICKY
    assert unlock.rule == AllOf(
        (
            CompetencyAtLeast("FRAC-1", level="Mastery"),
            ModuleCompleted("M2"),
            AnyOf((LineItemAtLeast("quiz-1", percent=80), InGroup("red"))),
            Not(ModuleMastered("M5")),
            AtLeastOf(1, (OnOrAfter(datetime(2025, 3, 1, tzinfo=UTC)),)),
            CompetencyAtLeast("FRAC-2", score=2.5),
            LineItemAtLeast("quiz-1", points=8),
        )
    )
    assert parse_unlock(json.dumps(unlock_to_json(unlock)), CATALOG) == unlock


def test_no_rule_means_open_from_the_start():
    assert parse_unlock(None, CATALOG) == Unlock()
    assert parse_unlock({"mode": "sticky", "rule": None}, CATALOG).rule is None


COMPLETED = {"module_completed": "M1"}

ERRORS = [
    (
        {"all": [COMPLETED, COMPLETED, {"competency": "FRAC-3", "level": "Mastery"}]},
        'rule.all[2].competency: no competency with code "FRAC-3"',
    ),
    (
        {"at_least": {"k": 4, "of": [COMPLETED, COMPLETED, COMPLETED]}},
        "rule.at_least.k: 4 is more than the 3 conditions",
    ),
    ({"at_least": {"k": 0, "of": [COMPLETED]}}, "rule.at_least.k: must be at least 1, not 0"),
    ({"at_least": {"k": True, "of": [COMPLETED]}}, "rule.at_least.k: must be a whole number"),
    ({"at_least": {"of": [COMPLETED]}}, "rule.at_least.k: missing"),
    ({"all": []}, "rule.all: needs at least one condition"),
    ({"any": COMPLETED}, "rule.any: must be a list of conditions"),
    ({"module_completed": "M9"}, 'rule.module_completed: no module with id "M9"'),
    ({"module_mastered": 3}, "rule.module_mastered: must be a module id (a string), not 3"),
    ({"competency": "FRAC-1"}, 'rule: give either "level"'),
    ({"competency": "FRAC-1", "level": "Mastery", "score": 3}, 'rule: give either "level"'),
    ({"competency": "FRAC-1", "level": "Mastered"}, 'rule.level: "Mastered" is not a level'),
    ({"competency": "FRAC-1", "score": 5}, "rule.score: 5 is more than the maximum (4 points)"),
    ({"line_item": "quiz-1", "percent": 120}, "rule.percent: 120 is more than 100"),
    ({"line_item": "quiz-1", "points": 11}, "rule.points: 11 is more than the maximum"),
    ({"line_item": "quiz-2", "points": 1}, 'rule.line_item: no line item with id "quiz-2"'),
    ({"on_or_after": "2025-03-01"}, 'rule.on_or_after: "2025-03-01" needs a time zone'),
    ({"on_or_after": "soon"}, 'rule.on_or_after: "soon" is not an ISO 8601 date-time'),
    ({"group": "blue"}, 'rule.group: no group with id "blue"'),
    ({"not": [COMPLETED]}, "rule.not: must be an object"),
    ({"module_completed": "M1", "module_mastered": "M2"}, 'rule: has both "module_completed"'),
    ({"module_completed": "M1", "colour": "red"}, "rule.colour: unknown key"),
    ({"every": []}, "rule: expected one of all, any"),
    ([COMPLETED], "rule: must be an object"),
]


@pytest.mark.parametrize(("rule", "message"), ERRORS)
def test_bad_rules_are_refused_with_a_path(rule, message):
    with pytest.raises(RuleError) as info:
        parse(rule)
    assert str(info.value).startswith(message)


def test_bad_documents_are_refused():
    with pytest.raises(RuleError, match='mode: "always" is not one of'):
        parse(COMPLETED, mode="always")
    with pytest.raises(RuleError, match="not valid JSON"):
        parse_unlock("{", CATALOG)
    with pytest.raises(RuleError, match="unknown key"):
        parse_unlock({"rule": None, "when": 1}, CATALOG)
    deep: dict = COMPLETED
    for _ in range(40):
        deep = {"not": deep}
    with pytest.raises(RuleError, match="at most 32 levels"):
        parse(deep)


def test_a_module_cannot_need_itself():
    with pytest.raises(RuleError, match=r"rule.module_completed: .*M1 → M1"):
        parse(COMPLETED, module="M1")


def test_cycles_between_modules_are_refused_and_named():
    modules = [
        Module("M1", "Module 1"),
        Module(
            "M2", "Module 2", unlock=Unlock(AllOf((ModuleCompleted("M1"), ModuleCompleted("M5"))))
        ),
        Module("M5", "Module 5", unlock=Unlock(ModuleMastered("M2"))),
    ]
    with pytest.raises(RuleError) as info:
        build_course(
            COMPETENCIES,
            [
                *modules[:2],
                Module(
                    "M5", "Module 5", competencies=("FRAC-1",), unlock=Unlock(ModuleCompleted("M2"))
                ),
            ],
        )
    assert str(info.value) == "modules need each other in a circle: M2 → M5 → M2"
    with pytest.raises(RuleError, match="lists no competencies"):
        build_course(COMPETENCIES, modules)


def test_choices_count_as_dependencies_for_cycles():
    modules = [
        Module("C", "Pick a path", choice_of=("A", "B")),
        Module("A", "Path A", unlock=Unlock(ModuleCompleted("C"))),
        Module("B", "Path B"),
    ]
    with pytest.raises(RuleError, match="C → A → C"):
        build_course([], modules)


def test_rules_built_in_code_are_checked_too():
    bad = Module("M1", "Module 1", unlock=Unlock(CompetencyAtLeast("NOPE", level="Mastery")))
    with pytest.raises(RuleError, match="modules\\['M1'\\].rule.competency: no competency"):
        build_course(COMPETENCIES, [bad])


# -- rendering: every node kind as the full sentence people read ---------------------------

FINISH_1 = ModuleCompleted("M1")
FINISH_2 = ModuleCompleted("M2")
REACH = CompetencyAtLeast("FRAC-1", level="Mastery")
QUIZ = LineItemAtLeast("quiz-1", percent=80)
RED = InGroup("red")
MARCH = OnOrAfter(datetime(2025, 3, 3, tzinfo=UTC))

SENTENCES = [
    (FINISH_2, "Unlocks when you finish Module 2"),
    (ModuleMastered("M2"), "Unlocks when you master Module 2"),
    (REACH, "Unlocks when you reach Mastery in Equivalent fractions"),
    (
        CompetencyAtLeast("FRAC-1", score=2.5),
        "Unlocks when you reach a score of 2.5 in Equivalent fractions",
    ),
    (QUIZ, "Unlocks when you score at least 80% on Quiz 1"),
    (LineItemAtLeast("quiz-1", points=8), "Unlocks when you score at least 8 points on Quiz 1"),
    (LineItemAtLeast("quiz-1", points=1), "Unlocks when you score at least 1 point on Quiz 1"),
    (MARCH, "Unlocks when it is 3 March 2025 at 00:00 or later (times in UTC)"),
    (RED, "Unlocks when you are in the group Red team"),
    (
        AllOf((REACH, FINISH_2)),
        "Unlocks when you reach Mastery in Equivalent fractions and finish Module 2",
    ),
    (AnyOf((FINISH_1, QUIZ)), "Unlocks when you finish Module 1 or score at least 80% on Quiz 1"),
    (
        AllOf((FINISH_1, MARCH, RED)),
        "Unlocks when you finish Module 1, it is 3 March 2025 at 00:00 or later and you are in "
        "the group Red team (times in UTC)",
    ),
    (Not(FINISH_1), "Unlocks when you have not finished Module 1"),
    (Not(REACH), "Unlocks when you are below Mastery in Equivalent fractions"),
    (Not(MARCH), "Unlocks when it is before 3 March 2025 at 00:00 (times in UTC)"),
    (Not(QUIZ), "Unlocks when you have not scored at least 80% on Quiz 1"),
    (Not(RED), "Unlocks when you are not in the group Red team"),
    (Not(Not(FINISH_1)), "Unlocks when you finish Module 1"),
    (
        AtLeastOf(2, (FINISH_1, QUIZ, RED)),
        "Unlocks when at least 2 of these hold: you finish Module 1; you score at least 80% on "
        "Quiz 1; you are in the group Red team",
    ),
    (
        AllOf((FINISH_1, AnyOf((REACH, QUIZ)))),
        "Unlocks when you finish Module 1 and (you reach Mastery in Equivalent fractions or score "
        "at least 80% on Quiz 1)",
    ),
    (
        Not(AnyOf((FINISH_1, RED))),
        "Unlocks when you have not finished Module 1 and are not in the group Red team",
    ),
    (
        Not(AllOf((FINISH_1, RED))),
        "Unlocks when you have not finished Module 1 or are not in the group Red team",
    ),
    (  # no double negative: "none of these hold: you are not in the group" reads as its meaning
        Not(AnyOf((Not(RED), FINISH_1))),
        "Unlocks when you are in the group Red team and have not finished Module 1",
    ),
    (
        Not(AtLeastOf(1, (FINISH_1, RED))),
        "Unlocks when you have not finished Module 1 and are not in the group Red team",
    ),
    (
        Not(AtLeastOf(2, (FINISH_1, QUIZ, RED))),
        "Unlocks when fewer than 2 of these hold: you finish Module 1; you score at least 80% on "
        "Quiz 1; you are in the group Red team",
    ),
    (
        AnyOf((AllOf((FINISH_1, FINISH_2)), AtLeastOf(1, (RED, QUIZ)))),
        "Unlocks when (you finish Module 1 and finish Module 2) or (you are in the group Red team "
        "or score at least 80% on Quiz 1)",
    ),
]


@pytest.mark.parametrize(("rule", "sentence"), SENTENCES)
def test_rules_render_as_sentences(rule, sentence):
    assert render(rule, CATALOG) == sentence


def test_unlock_modes_render():
    assert render(Unlock(), CATALOG) == "Unlocked from the start"
    assert render(Unlock(FINISH_2, UnlockMode.STICKY), CATALOG) == (
        "Unlocks when you finish Module 2, and then stays unlocked"
    )
    assert render(Unlock(MARCH, UnlockMode.STICKY), CATALOG) == (
        "Unlocks when it is 3 March 2025 at 00:00 or later, and then stays unlocked (times in UTC)"
    )


def test_outline_keeps_moodles_shapes():
    rule = AllOf((FINISH_1, AnyOf((REACH, QUIZ)), Not(AnyOf((RED, MARCH)))))
    assert render_outline(rule, CATALOG) == [
        (0, "Unlocks when all of:"),
        (1, "you finish Module 1"),
        (1, "Any of:"),
        (2, "you reach Mastery in Equivalent fractions"),
        (2, "you score at least 80% on Quiz 1"),
        (1, "None of:"),
        (2, "you are in the group Red team"),
        (2, "it is 3 March 2025 at 00:00 or later"),
        (0, "Times are in UTC."),
    ]
    assert render_outline(FINISH_1, CATALOG) == [(0, "Unlocks when you finish Module 1")]


def test_schema_accepts_what_the_parser_accepts():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(RULE_SCHEMA)
    validator.check_schema(RULE_SCHEMA)
    for rule, _ in SENTENCES:
        validator.validate(unlock_to_json(Unlock(rule, UnlockMode.STICKY)))
    assert not validator.is_valid({"rule": {"all": []}})
    assert not validator.is_valid({"rule": {"competency": "X"}})
