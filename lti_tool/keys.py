"""The tool's RSA keys: made on first start, published as a JWKS, rotated with an overlap.

A rotated key is published `key_publish_ahead_seconds` before it signs, so platforms that
cache our JWKS already know it; the key it replaces stays published for
`key_retire_after_seconds` after it stopped signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.models.platform import ToolKey
from lti_tool.models.types import utcnow


class ToolKeyError(RuntimeError):
    """No key can sign, or a stored key cannot be read (wrong key-encryption key)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa_key() -> tuple[str, dict[str, str]]:
    """A fresh RSA-2048 key as (PEM, public JWK with a thumbprint kid)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    # RFC 7638 thumbprint: stable, unique, and says nothing about when the key was made.
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    kid = _b64(hashlib.sha256(canonical.encode()).digest())[:32]
    public = {"kty": "RSA", "e": jwk["e"], "n": jwk["n"], "kid": kid, "alg": "RS256", "use": "sig"}
    return pem, public


def _seal(pem: str, kek: str) -> tuple[str, bool]:
    if not kek:
        return pem, False
    return Fernet(kek.encode()).encrypt(pem.encode()).decode(), True


@lru_cache(maxsize=16)
def _load_private(stored: str, encrypted: bool, kek: str) -> Any:
    # Loading a PEM costs ~40 ms: done once per key and process, never per signature.
    if encrypted:
        if not kek:
            raise ToolKeyError(
                "the tool's private key is encrypted but LTI_TOOL_KEY_ENCRYPTION_KEY is not set"
            )
        try:
            pem = Fernet(kek.encode()).decrypt(stored.encode())
        except Exception:
            raise ToolKeyError(
                "the tool's private key cannot be decrypted: LTI_TOOL_KEY_ENCRYPTION_KEY "
                "is not the key it was encrypted with"
            ) from None
    else:
        pem = stored.encode()
    return serialization.load_pem_private_key(pem, password=None)


def add_key(session: Session, kek: str, signs_from: datetime | None = None) -> ToolKey:
    pem, public = new_rsa_key()
    stored, encrypted = _seal(pem, kek)
    key = ToolKey(
        kid=public["kid"],
        public_jwk=public,
        private_key=stored,
        encrypted=encrypted,
        signs_from=signs_from or utcnow(),
    )
    session.add(key)
    session.flush()
    return key


def ensure_key(session: Session, kek: str) -> ToolKey:
    """The first start makes a key; later starts find one."""
    now = utcnow()
    existing = session.scalars(
        select(ToolKey).where(or_(ToolKey.retire_at.is_(None), ToolKey.retire_at > now))
    ).first()
    return existing or add_key(session, kek)


def published_keys(session: Session, now: datetime | None = None) -> list[ToolKey]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(ToolKey)
            .where(or_(ToolKey.retire_at.is_(None), ToolKey.retire_at > now))
            .order_by(ToolKey.signs_from, ToolKey.id)
        )
    )


def jwks(session: Session, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    return {"keys": [dict(k.public_jwk) for k in published_keys(session, now)]}


def signing_key(session: Session, kek: str, now: datetime | None = None) -> tuple[str, Any]:
    """(kid, private key object) of the newest published key whose time to sign has come."""
    now = now or utcnow()
    ready = [k for k in published_keys(session, now) if k.signs_from <= now]
    if not ready:
        raise ToolKeyError("the tool has no key that may sign yet: run `lti-tool keys rotate`")
    key = ready[-1]
    return key.kid, _load_private(key.private_key, key.encrypted, kek)


def rotate(
    session: Session,
    kek: str,
    publish_ahead: timedelta,
    retire_after: timedelta,
    now: datetime | None = None,
) -> ToolKey:
    """Add a key that signs after `publish_ahead`; retire the others after the overlap."""
    now = now or utcnow()
    new = add_key(session, kek, signs_from=now + publish_ahead)
    retire_at = new.signs_from + retire_after
    for key in published_keys(session, now):
        if key.id != new.id and (key.retire_at is None or key.retire_at > retire_at):
            key.retire_at = retire_at
    session.flush()
    return new
