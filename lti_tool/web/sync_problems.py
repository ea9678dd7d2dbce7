"""What a teacher reads when a sync with the LMS fails: a short message in words.

The platform's error body and its internal URLs help an administrator, not a teacher, and
may show what a school would not show: they stay in the log. Pages pass a code in the URL,
never the text, so no link can put other words on the page.
"""

from __future__ import annotations

from lti_tool.services.roster import RosterUnavailable

MESSAGES = {
    "no_service": (
        "The LMS did not offer its roster service (Names and Role Provisioning) for this "
        "course. An LMS administrator can turn it on in the tool's settings."
    ),
    "refused": (
        "The LMS refused the tool's request: the tool's access to the roster or the "
        "gradebook may be turned off in the LMS. Your LMS administrator can find the detail "
        "in the tool's log."
    ),
    "gone": (
        "The LMS no longer knows the address the tool was given for this course. Open the "
        "tool again from the course and retry; if it keeps failing, your LMS administrator "
        "can find the detail in the tool's log."
    ),
    "unavailable": (
        "The LMS did not answer (it may be busy or down). Try again in a few minutes; if it "
        "keeps failing, your LMS administrator can find the detail in the tool's log."
    ),
}


def problem_code(exc: Exception) -> str:
    """Which message fits a failed sync."""
    if isinstance(exc, RosterUnavailable):
        return "no_service"
    status = getattr(exc, "status", None)
    if status in (401, 403):
        return "refused"
    if status in (404, 410):
        return "gone"
    return "unavailable"


def message(code: str | None) -> str | None:
    """The words for a code from a URL; None when there is no problem to show."""
    if not code:
        return None
    return MESSAGES.get(code, MESSAGES["unavailable"])


def sync_problem(exc: Exception) -> str:
    return MESSAGES[problem_code(exc)]
