"""Registration invites: the URL an admin pastes into the LMS carries a random token that
opens the registration page until it expires or a registration succeeds with it.

Only the token's SHA-256 is stored, so a copy of the database opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.models.platform import RegistrationInvite
from lti_tool.models.types import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_invite(session: Session, valid_for: timedelta, now: datetime | None = None) -> str:
    """A fresh invite's token (shown once; only its hash is kept)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        RegistrationInvite(token_hash=_hash(token), created_at=now, expires_at=now + valid_for)
    )
    session.flush()
    return token


def why_refused(session: Session, token: str, now: datetime | None = None) -> str | None:
    """None when the token opens the registration page, else why not (in an admin's words)."""
    if not token or len(token) > 100:
        return "This registration link is not valid."
    invite = session.scalar(
        select(RegistrationInvite).where(RegistrationInvite.token_hash == _hash(token))
    )
    if invite is None:
        return "This registration link is not valid."
    if invite.used_at is not None:
        return "This registration link was already used for a registration."
    if invite.expires_at <= (now or utcnow()):
        return "This registration link has expired."
    return None


def use_invite(session: Session, token: str, registration_id: int) -> bool:
    """Mark the invite used by this registration; False when another request used it first
    (the caller then rolls back, so nothing of the second registration stays)."""
    done = session.execute(
        update(RegistrationInvite)
        .where(
            RegistrationInvite.token_hash == _hash(token),
            RegistrationInvite.used_at.is_(None),
        )
        .values(used_at=utcnow(), registration_id=registration_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0) == 1)
