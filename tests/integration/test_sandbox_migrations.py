"""The sandbox's tables live on their own Alembic branch: the product chain alone makes none of
them, a database made before the branch existed (0005 with the tables) upgrades cleanly and
keeps its rows, and the branch comes off again without touching the product's tables."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import text

from lti_tool import migrate
from lti_tool.db import make_engine

pytestmark = pytest.mark.postgres


# The product chain's newest revision: these tests are about the sandbox branch, not it.
_SCRIPTS = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
PRODUCT = _SCRIPTS.get_revision(migrate.PRODUCT_ONLY).revision
# The sandbox branch's newest revision, likewise.
SANDBOX = _SCRIPTS.get_revision("sandbox@head").revision


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _heads(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


def test_product_chain_alone_makes_no_sandbox_table(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, migrate.PRODUCT_ONLY)
    assert "registrations" in _tables(engine)
    assert not {t for t in _tables(engine) if t.startswith("sandbox_")}
    assert not migrate.needs_upgrade(engine, migrate.PRODUCT_ONLY)
    assert migrate.needs_upgrade(engine)
    migrate.upgrade(engine)
    assert {"sandbox_results", "sandbox_grade_conditions"} <= _tables(engine)
    assert _heads(engine) == {PRODUCT, SANDBOX}
    engine.dispose()


def test_database_from_before_the_branch_upgrades_and_keeps_its_rows(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, migrate.PRODUCT_ONLY)
    migrate.upgrade(engine, "s0001")
    # What 0001-0005 left before the branch existed: the same sandbox tables, and only the
    # product's revision recorded.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sandbox_platforms (slug, shape, name, issuer) "
                "VALUES ('canvas', 'canvas', 'Old Canvas', 'https://canvas.example')"
            )
        )
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = 's0001'"))
    assert _heads(engine) == {PRODUCT}
    assert migrate.needs_upgrade(engine)

    migrate.upgrade(engine)

    assert _heads(engine) == {PRODUCT, SANDBOX}
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sandbox_platforms")).scalars().all()
    assert names == ["Old Canvas"]
    migrate.check(engine)
    engine.dispose()


def test_sandbox_branch_comes_off_alone(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "sandbox@base")
    assert not {t for t in _tables(engine) if t.startswith("sandbox_")}
    assert {"registrations", "store_entries", "evidence"} <= _tables(engine)
    assert _heads(engine) == {PRODUCT}
    engine.dispose()
