"""What the engine is told about students besides evidence, and the verdicts it gives back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from .evidence import Evidence, LineItemScore


class Status(IntEnum):
    """A module's state for one student, ordered so "completed or better" is `>= COMPLETED`.

    Exempt counts as mastered for other modules' rules: the teacher excused the student from it.
    """

    LOCKED = 0
    UNLOCKED = 1
    COMPLETED = 2
    MASTERED = 3
    EXEMPT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class OverrideKind(StrEnum):
    """A teacher's per-student decision; it beats the rule."""

    UNLOCK = "unlock"
    LOCK = "lock"
    EXEMPT = "exempt"


@dataclass(frozen=True, slots=True)
class Override:
    """Set (or with `kind=None`, clear) a teacher override; who and why are the app's audit."""

    student: str
    module: str
    kind: OverrideKind | None


@dataclass(frozen=True, slots=True)
class Completion:
    """A completion the app recorded (e.g. the student finished the content)."""

    student: str
    module: str
    completed: bool = True


@dataclass(frozen=True, slots=True)
class GroupMembership:
    student: str
    group: str
    member: bool = True


EvidenceRow = tuple[str, str, str, float, float | None, float, float | None]


@dataclass(frozen=True, slots=True)
class ClassFacts:
    """Everything known about a class; `sticky_unlocked` is the remembered (student, module)
    pairs whose sticky rule held before, which the app stores so the engine stays pure."""

    students: tuple[str, ...]
    evidence: Iterable[Evidence] = ()
    line_item_scores: Iterable[LineItemScore] = ()
    completions: Iterable[Completion] = ()
    groups: Iterable[GroupMembership] = ()
    overrides: Iterable[Override] = ()
    sticky_unlocked: Iterable[tuple[str, str]] = ()
    #: More evidence, as plain rows (id, student, competency, score, out_of, graded_at,
    #: submitted_at) with the times in POSIX seconds: a course's 150,000 without an object
    #: each, checked and converted as Evidence is.
    evidence_rows: Iterable[EvidenceRow] = ()
