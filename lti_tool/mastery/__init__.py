"""The mastery engine: competency scores, unlock rules and their explanations, as a pure core.

Purity rule: no I/O. Nothing here touches files, network, database, clock or environment,
and it imports nothing from Flask, SQLAlchemy, requests, werkzeug, jwt, redis, rq, pylti1p3 or any
`lti_tool` package outside `lti_tool.mastery`. Inputs and outputs are plain typed values, the time
is passed in, and results are deterministic. `ruff.toml` here and
`tests/unit/mastery/test_mastery_purity.py` fail when the rule is broken.

Typical use::

    model = build_course(competencies, modules, line_items)        # once per course version
    state = evaluate_class(model, ClassFacts(students, evidence, ...), now)
    explain(state, student, module)                                 # what a student reads
"""

from .catalog import Catalog, CompetencySpec, LineItem, Module
from .course import ClassState, MasteryResult, evaluate_class
from .errors import ConfigError, EvidenceError, MasteryError, RuleError
from .evaluate import Condition, Explanation, NextStep, explain
from .evidence import Evidence, LineItemScore, OrderBy
from .facts import (
    ClassFacts,
    Completion,
    EvidenceRow,
    GroupMembership,
    Override,
    OverrideKind,
    Status,
)
from .methods import (
    BKT,
    Average,
    DecayingAverage,
    Highest,
    Latest,
    Method,
    Mode,
    NTimes,
    PowerLaw,
    WeightedAverage,
    method_from_json,
    method_to_json,
)
from .model import CourseModel, build_course
from .rollup import RollUp, RollUpKind
from .rule_parse import parse_rule, parse_unlock, rule_to_json, unlock_to_json
from .rule_render import render, render_outline
from .rule_schema import RULE_SCHEMA
from .rules import (
    AllOf,
    AnyOf,
    AtLeastOf,
    CompetencyAtLeast,
    InGroup,
    LineItemAtLeast,
    ModuleCompleted,
    ModuleMastered,
    Not,
    OnOrAfter,
    Rule,
    Unlock,
    UnlockMode,
)
from .scales import DEFAULT_SCALE, Level, Scale

__all__ = [
    "BKT",
    "DEFAULT_SCALE",
    "RULE_SCHEMA",
    "AllOf",
    "AnyOf",
    "AtLeastOf",
    "Average",
    "Catalog",
    "ClassFacts",
    "ClassState",
    "CompetencySpec",
    "CompetencyAtLeast",
    "Completion",
    "Condition",
    "ConfigError",
    "CourseModel",
    "DecayingAverage",
    "Evidence",
    "EvidenceError",
    "EvidenceRow",
    "Explanation",
    "GroupMembership",
    "Highest",
    "InGroup",
    "Latest",
    "Level",
    "LineItem",
    "LineItemAtLeast",
    "LineItemScore",
    "MasteryError",
    "MasteryResult",
    "Method",
    "Mode",
    "Module",
    "ModuleCompleted",
    "ModuleMastered",
    "NTimes",
    "NextStep",
    "Not",
    "OnOrAfter",
    "OrderBy",
    "Override",
    "OverrideKind",
    "PowerLaw",
    "RollUp",
    "RollUpKind",
    "Rule",
    "RuleError",
    "Scale",
    "Status",
    "Unlock",
    "UnlockMode",
    "WeightedAverage",
    "build_course",
    "evaluate_class",
    "explain",
    "method_from_json",
    "method_to_json",
    "parse_rule",
    "parse_unlock",
    "render",
    "render_outline",
    "rule_to_json",
    "unlock_to_json",
]
