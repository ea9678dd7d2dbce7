"""The bulk writes of a recompute give the same rows whichever way they travel: an update's
values as arrays or by COPY into a temporary table (many rows), JSON as dicts or as text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lti_tool.grading.outbox import requeue
from lti_tool.models import bulk
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, UnlockState
from tests.integration.test_state_cascades import two_courses

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


@pytest.mark.parametrize("copied_from", [1, bulk.COPIED_UPDATE], ids=["copied", "arrays"])
def test_an_update_sets_each_row_its_values_and_the_shared_ones(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, copied_from: int
) -> None:
    monkeypatch.setattr(bulk, "COPIED_UPDATE", copied_from)
    two_courses(engine)
    with Session(engine) as s:
        unlocks = s.scalars(select(UnlockState.id).order_by(UnlockState.id)).all()
        outbox = s.execute(select(ScoreOutbox.id, ScoreOutbox.version)).all()
        bulk.update_rows(
            s,
            UnlockState.__table__,
            ("status", "sticky_unlocked"),
            [(row_id, f"s{i}", i % 2 == 0) for i, row_id in enumerate(unlocks)],
            {"since": NOW},
        )
        bulk.update_rows(s, UnlockState.__table__, (), [(unlocks[1],)], {"sticky_unlocked": True})
        requeue(s, [(row_id, 0.5 * row_id, 4.0, NOW) for row_id, _ in outbox])
        s.commit()
    with Session(engine) as s:
        assert s.execute(
            select(UnlockState.status, UnlockState.sticky_unlocked, UnlockState.since).order_by(
                UnlockState.id
            )
        ).all() == [(f"s{i}", i % 2 == 0 or i == 1, NOW) for i in range(len(unlocks))]
        versions = dict(outbox)
        for row in s.scalars(select(ScoreOutbox)):
            assert (row.score_given, row.score_maximum, row.version, row.state) == (
                0.5 * row.id,
                4.0,
                versions[row.id] + 1,
                "pending",
            )
            assert row.next_attempt_at == NOW


def test_json_already_encoded_is_stored_as_the_value_it_encodes(engine: Engine) -> None:
    course, _, ava, _ = two_courses(engine)
    detail = {"module": 1, "title": "Ünit “1”", "before": None, "rule": {"all": [1, 2.5]}}
    with Session(engine) as s:
        bulk.insert_rows(
            s,
            AuditEntry.__table__,
            ("kind", "user_id", "detail"),
            [
                (
                    "unlock",
                    ava,
                    '{"module": 1, "title": "\\u00dcnit \u201c1\u201d", '
                    '"before": null, "rule": {"all": [1, 2.5]}}',
                )
            ],
            {"context_id": course, "at": NOW},
            encoded=("detail",),
        )
        s.commit()
    with Session(engine) as s:
        assert s.scalars(select(AuditEntry.detail)).all() == [detail]
