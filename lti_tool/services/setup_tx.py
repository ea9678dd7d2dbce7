"""One way every setup change is made: in a savepoint, checked as the loop will read the course,
rolled back with a refusal naming the field, and recomputed so students see it at their next click.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.models.modules import Module
from lti_tool.services import parent_evidence
from lti_tool.services.course_model import load_model
from lti_tool.services.recompute import recompute_course


class SetupRefused(Exception):
    """A change the course cannot take; `field` is where the page shows `message`."""

    def __init__(self, field: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.details = details or []


@contextmanager
def refusing(
    session: Session,
    context_id: int,
    by: int,
    what: str,
    *,
    field: str = "form",
    module_id: int | None = None,
) -> Iterator[None]:
    """Run the body in a savepoint; a refusal (raised or the engine's) undoes only the body."""
    _open_outer(session)
    savepoint = session.begin_nested()
    try:
        yield
        problem = check(session, context_id, module_id)
    except BaseException:
        savepoint.rollback()
        raise
    if problem:
        savepoint.rollback()
        raise SetupRefused(field, problem)
    savepoint.commit()
    changed(session, context_id, by, what)


def delete(session: Session, row: Any, by: int, what: str, refusals: list[str], then: str) -> None:
    """A competency or module deleted, refused while `refusals` says what still uses it."""
    if refusals:
        details = [f'"{row.title}" cannot be deleted yet.', *refusals, then]
        raise SetupRefused("delete", details[0], details)
    with refusing(session, row.context_id, by, what, field="delete"):
        session.delete(row)


def changed(session: Session, context_id: int, by: int, what: str) -> None:
    """Students see a setup change at their next click: the course is recomputed now."""
    recompute_course(session, context_id, cause={"kind": "setup", "by": by, "what": what})


def _open_outer(session: Session) -> None:
    # SQLite's driver begins a transaction only at the first write: a savepoint opened before
    # it would be the outermost transaction and commit on release, before the request ends.
    # IMMEDIATE takes the write lock now (waiting its turn), as that first write would: a
    # deferred one would read a snapshot another writer can outdate before this one writes.
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def check(session: Session, context_id: int, module_id: int | None = None) -> str | None:
    """The engine's refusal of the course as it now stands in this transaction, or None.

    A rule's path is shown relative to the module being edited, as the builder names it.
    """
    session.flush()
    try:
        load_model(session, context_id)
    except mastery.RuleError as exc:
        prefix = f"modules[{str(module_id)!r}]."
        if module_id is not None and exc.path.startswith(prefix):
            return f"{exc.path[len(prefix) :]}: {exc.message}"
        return _named(session, str(exc))
    except mastery.MasteryError as exc:
        return _named(session, str(exc))
    return parent_evidence.column_problem(session, context_id)


def _named(session: Session, message: str) -> str:
    """Engine messages name modules by row id; teachers know them by title."""

    def title(match: re.Match[str]) -> str:
        row = session.get(Module, int(match.group(1)))
        return f'"{row.title}"' if row is not None else match.group(0)

    return re.sub(r"modules\['(\d+)'\]", lambda m: "module " + title(m), message)
