"""How Moodle and Canvas decide whether their own content is open to one student: pure functions
of that student's grades in the sandbox gradebook. No IO, no Flask, no database: the rules read
as the LMSs' own code does, and `native_content.py` feeds them.

Moodle, "Restrict access → Grade" (`availability/condition/grade/classes/condition.php`,
`availability/classes/tree.php`): a condition passes when the grade, as a percentage of the item
(`(grade − min) × 100 / (max − min)`, min 0, max the column's maximum), is ≥ its minimum and < its
maximum; no grade never passes. All conditions must pass. A student who fails one whose eye is
closed does not see the activity at all; otherwise sees it greyed with one sentence per failed
condition, and never the numbers.

Canvas, module progressions (`app/models/context_module_progression.rb`): a module with
prerequisites is locked until every prerequisite module is completed; once unlocked for a student
it stays unlocked (progressions only move from locked to unlocked; only a teacher's relock shuts
it again). A module is completed when it is unlocked and each requirement is met; "score at
least N" is met by a posted score ≥ N points, a score within 1e-6 of a whole number counting as
that number. A requirement whose item is gone is skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# Moodle's own strings (lang/en/availability.php, availability/condition/grade/lang/en/
# availability_grade.php, lang/en/moodle.php).
NOT_AVAILABLE_UNLESS = "Not available unless:"
HIDDEN_MARKER = "(hidden otherwise)"
MISSING_ITEM = "(missing activity)"
CURRENTLY_HIDDEN = "This activity is currently hidden"
SHOWN_INDIVIDUAL = "Displayed if student doesn't meet this condition"
HIDDEN_INDIVIDUAL = "Hidden entirely if student doesn't meet this condition"

# Canvas compares scores to a requirement within this distance of a whole number as that number.
NEAR_ENOUGH = 1e-6


@dataclass(frozen=True)
class Grade:
    """A student's grade in one gradebook column, in the column's points (None: no grade);
    `posted` is false while Canvas' manual post policy holds it back."""

    points: float | None
    maximum: float
    posted: bool = True


# -- Moodle ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeCondition:
    """One "Restrict access → Grade" condition: a grade item (None when it is missing), the
    limits in percent (minimum inclusive, maximum exclusive, each optional) and the eye."""

    item_id: int | None
    item_name: str
    min_percent: float | None
    max_percent: float | None
    shown: bool = True


@dataclass(frozen=True)
class Availability:
    """Whether a student may open an activity, may see it at all, and the failed conditions'
    sentences (what Moodle shows under "Not available unless:")."""

    available: bool
    visible: bool
    reasons: tuple[str, ...] = ()


def moodle_percent(grade: Grade | None) -> float | None:
    """The grade as Moodle's grade condition sees it: a percentage of the item's range."""
    if grade is None or grade.points is None or grade.maximum <= 0:
        return None
    grade_min = 0.0  # an AGS line item becomes a manual grade item with grademin 0
    return (grade.points - grade_min) * 100 / (grade.maximum - grade_min)


def grade_condition_met(condition: GradeCondition, grades: Mapping[int, Grade]) -> bool:
    """Moodle's `is_available`: a grade, ≥ the minimum, < the maximum."""
    if condition.item_id is None:
        return False
    percent = moodle_percent(grades.get(condition.item_id))
    return (
        percent is not None
        and (condition.min_percent is None or percent >= condition.min_percent)
        and (condition.max_percent is None or percent < condition.max_percent)
    )


def grade_condition_text(condition: GradeCondition) -> str:
    """Moodle's sentence for the condition: coy about the numbers, on purpose."""
    name = condition.item_name
    if condition.min_percent is None and condition.max_percent is None:
        return f"You have a grade in {name}"
    if condition.max_percent is None:
        return f"You achieve higher than a certain score in {name}"
    if condition.min_percent is None:
        return f"You achieve lower than a certain score in {name}"
    return f"You achieve a score within a certain range in {name}"


def moodle_availability(
    conditions: Sequence[GradeCondition], grades: Mapping[int, Grade]
) -> Availability:
    """An AND of the conditions, each with its own eye; a closed eye on a failed one hides all."""
    failed = [c for c in conditions if not grade_condition_met(c, grades)]
    if not failed:
        return Availability(available=True, visible=True)
    if any(not c.shown for c in failed):
        return Availability(available=False, visible=False)
    return Availability(False, True, tuple(grade_condition_text(c) for c in failed))


# -- Canvas ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinScore:
    """A module's "score at least N" requirement on an item that is a gradebook column: None
    while the column is awaited (never met); `gone` once it was deleted, which takes the item,
    and so the requirement, with it."""

    item_id: int
    line_item_id: int | None
    min_score: float
    gone: bool = False


@dataclass(frozen=True)
class Module:
    id: int
    name: str
    prerequisite_ids: tuple[int, ...] = ()
    requirements: tuple[MinScore, ...] = ()


@dataclass(frozen=True)
class Progression:
    """One student's state in one module, as Canvas' progression keeps it."""

    locked: bool
    completed: bool
    started: bool
    met: frozenset[int]
    # Unlocked now but not yet remembered: the caller stores it, so it stays unlocked.
    newly_unlocked: bool = False

    @property
    def status(self) -> str:
        """Canvas' word for the module header (ModuleHeaderStatusIcon.tsx), or ""."""
        if self.locked:
            return "Locked"
        if self.completed:
            return "Completed"
        return "In Progress" if self.started else ""


def canvas_score(points: float) -> float:
    """A score as Canvas compares it to a requirement: a hair from a whole number is that number."""
    whole = float(round(points))
    return whole if abs(points - whole) < NEAR_ENOUGH else points


def min_score_met(requirement: MinScore, grades: Mapping[int, Grade]) -> bool:
    """A posted score of at least the requirement's points."""
    if requirement.line_item_id is None:
        return False
    grade = grades.get(requirement.line_item_id)
    if grade is None or grade.points is None or not grade.posted:
        return False
    return canvas_score(grade.points) >= requirement.min_score


def canvas_progressions(
    modules: Sequence[Module], grades: Mapping[int, Grade], unlocked: Collection[int] = ()
) -> dict[int, Progression]:
    """Every module's progression for one student; `unlocked` is the modules already unlocked
    for them (Canvas never locks those again on its own)."""
    by_id = {m.id: m for m in modules}
    done: dict[int, Progression] = {}

    def evaluate(module: Module, path: frozenset[int]) -> Progression:
        if module.id in done:
            return done[module.id]
        path = path | {module.id}
        # A prerequisite that no longer exists is satisfied, as in Canvas; a cycle is not.
        satisfied = all(
            p not in path and evaluate(by_id[p], path).completed
            for p in module.prerequisite_ids
            if p in by_id
        )
        remembered = module.id in unlocked
        if not satisfied and not remembered:
            done[module.id] = Progression(True, False, False, frozenset())
            return done[module.id]
        live = [r for r in module.requirements if not r.gone]
        met = frozenset(r.item_id for r in live if min_score_met(r, grades))
        done[module.id] = Progression(
            locked=False,
            completed=all(r.item_id in met for r in live),
            started=bool(met),
            met=met,
            newly_unlocked=bool(module.prerequisite_ids) and not remembered,
        )
        return done[module.id]

    for module in modules:
        evaluate(module, frozenset())
    return done


def lock_explanation(kind: str, module_name: str) -> str:
    """Canvas' sentence for an item of a locked module (lib/canvas/lock_explanation.rb)."""
    noun = kind if kind in ("quiz", "assignment", "page") else "content"
    return f"This {noun} is part of the module {module_name} and hasn't been unlocked yet."


def prerequisites_text(names: Sequence[str]) -> str:
    """Canvas' module header line for its prerequisites."""
    label = "Prerequisite" if len(names) == 1 else "Prerequisites"
    return f"{label}: {', '.join(names)}"


def min_score_text(min_score: float, completed: bool) -> str:
    """Canvas' requirement line for "score at least N" (CompletionRequirementDisplay.tsx)."""
    verb = "Scored" if completed else "Score"
    return f"{verb} at least {min_score:.1f}"
