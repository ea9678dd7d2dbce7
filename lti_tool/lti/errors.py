"""A refused login or launch: what the person sees, and the precise reason that is logged."""

from __future__ import annotations

ADMIN_HINT = "Your LMS administrator can find the exact reason in the tool's log."


class LaunchError(Exception):
    """Refusal with a 4xx status, words a teacher can pass to their admin, and a log reason."""

    def __init__(self, status: int, title: str, explanation: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.title = title
        self.explanation = explanation
        self.reason = reason


def bad_request(title: str, explanation: str, reason: str) -> LaunchError:
    return LaunchError(400, title, explanation, reason)


def not_trusted(title: str, explanation: str, reason: str) -> LaunchError:
    return LaunchError(401, title, explanation, reason)


def forbidden(title: str, explanation: str, reason: str) -> LaunchError:
    return LaunchError(403, title, explanation, reason)
