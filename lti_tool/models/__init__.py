"""The tool's tables, imported here so they share one metadata (Alembic imports these and
the sandbox platform's own, `lti_tool.sandbox.models`)."""

from lti_tool.models import (
    model_version,  # noqa: F401 - registers the version bumps
    states_version,  # noqa: F401 - clears its marks with the transaction
)
from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.grading import GradeProblem, ScoreOutbox, ScoreStamp
from lti_tool.models.mastery import (
    Alignment,
    AuditEntry,
    Competency,
    CourseLineItem,
    Evidence,
    Goal,
    MasteryState,
    Override,
    Scale,
    UnlockState,
)
from lti_tool.models.modules import Module
from lti_tool.models.platform import Deployment, Registration, RegistrationInvite, ToolKey
from lti_tool.models.store import StoreEntry

__all__ = [
    "Alignment",
    "AuditEntry",
    "Competency",
    "CourseLineItem",
    "Evidence",
    "Goal",
    "GradeProblem",
    "MasteryState",
    "Override",
    "Scale",
    "ScoreOutbox",
    "UnlockState",
    "Context",
    "Deployment",
    "Membership",
    "Module",
    "Registration",
    "RegistrationInvite",
    "ResourceLink",
    "ScoreStamp",
    "StoreEntry",
    "ToolKey",
    "User",
]
