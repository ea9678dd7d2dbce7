"""The engine's own errors, so callers can catch one family and show its message as is."""

from __future__ import annotations


class MasteryError(ValueError):
    """Base of every error the engine raises on bad input (never on its own bugs)."""


class ConfigError(MasteryError):
    """A scale, method, competency or module definition that cannot be used."""


class EvidenceError(MasteryError):
    """Evidence, a score or a change that does not fit the course model."""


class RuleError(MasteryError):
    """An unlock rule that cannot be used; `path` points at the mistake (`rule.all[2].k`)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)
