"""The class at a glance for a teacher, read from the stored states (no engine run): a
summary the database counts, then the students a page at a time, the whole grid as CSV."""

from lti_tool.services.class_view.export import grid_rows
from lti_tool.services.class_view.levels import (
    LevelStyle,
    course_levels,
    level_class,
    levels_css,
    shown_level,
    text_colour,
)
from lti_tool.services.class_view.scope import Scope
from lti_tool.services.class_view.students import (
    NO_SCORE,
    PER_PAGE,
    SORTS,
    Query,
    StudentPage,
    student_page,
)
from lti_tool.services.class_view.summary import ClassSummary, ModuleSummary, class_summary

__all__ = [
    "NO_SCORE",
    "PER_PAGE",
    "SORTS",
    "ClassSummary",
    "LevelStyle",
    "ModuleSummary",
    "Query",
    "Scope",
    "StudentPage",
    "class_summary",
    "course_levels",
    "grid_rows",
    "level_class",
    "levels_css",
    "shown_level",
    "student_page",
    "text_colour",
]
