"""Tool keys: encrypted at rest with a key-encryption key, rotated with an overlap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from lti_tool import keys, migrate
from lti_tool.db import make_engine
from lti_tool.models.platform import ToolKey
from lti_tool.models.types import utcnow


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    migrate.upgrade(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_private_key_encrypted_when_kek_set(session: Session) -> None:
    kek = Fernet.generate_key().decode()
    key = keys.ensure_key(session, kek)
    assert key.encrypted and "PRIVATE KEY" not in key.private_key
    kid, private = keys.signing_key(session, kek)
    assert kid == key.kid and private.key_size == 2048
    keys._load_private.cache_clear()
    with pytest.raises(keys.ToolKeyError, match="LTI_TOOL_KEY_ENCRYPTION_KEY is not set"):
        keys.signing_key(session, "")
    with pytest.raises(keys.ToolKeyError, match="not the key it was encrypted with"):
        keys.signing_key(session, Fernet.generate_key().decode())


def test_plain_key_without_kek(session: Session) -> None:
    key = keys.ensure_key(session, "")
    assert not key.encrypted and "PRIVATE KEY" in key.private_key
    assert keys.ensure_key(session, "").id == key.id  # a second start finds it


def test_rotation_timeline(session: Session) -> None:
    old = keys.ensure_key(session, "")
    t0 = utcnow()
    new = keys.rotate(session, "", timedelta(hours=1), timedelta(days=7), now=t0)
    # published at once, both keys; the old one still signs until the new one's hour comes
    assert {k["kid"] for k in keys.jwks(session, t0)["keys"]} == {old.kid, new.kid}
    assert keys.signing_key(session, "", t0)[0] == old.kid
    assert keys.signing_key(session, "", t0 + timedelta(hours=1, seconds=1))[0] == new.kid
    # the old key stays published for the overlap after the new one signs, then goes
    later = t0 + timedelta(hours=1, days=7, seconds=1)
    assert {k["kid"] for k in keys.jwks(session, later)["keys"]} == {new.kid}
    assert session.get(ToolKey, old.id).retire_at == new.signs_from + timedelta(days=7)
