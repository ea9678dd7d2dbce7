"""Alignments written for course setup: which module or gradebook column is evidence of which
competency, and with what weight."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lti_tool.models.mastery import Alignment
from lti_tool.services.setup_course import alignments
from lti_tool.services.setup_tx import refusing

#: ("m", module id) or ("li", line item id), then the competency id.
Key = tuple[tuple[str, int], int]


def key_of(a: Alignment) -> Key:
    source = ("m", a.module_id) if a.module_id else ("li", a.line_item_id)
    return source, a.competency_id  # type: ignore[return-value]


def save_alignments(session: Session, context_id: int, by: int, wanted: dict[Key, float]) -> None:
    """The course's alignments become exactly `wanted` (key: weight)."""
    with refusing(session, context_id, by, "alignments changed"):
        existing = {key_of(a): a for a in alignments(session, context_id)}
        for key, row in existing.items():
            if key not in wanted:
                session.delete(row)
            elif row.weight != wanted[key]:
                row.weight = wanted[key]
        for key, weight in wanted.items():
            if key in existing:
                continue
            (kind, sid), cid = key
            session.add(
                Alignment(
                    context_id=context_id,
                    competency_id=cid,
                    module_id=sid if kind == "m" else None,
                    line_item_id=sid if kind == "li" else None,
                    weight=weight,
                )
            )
