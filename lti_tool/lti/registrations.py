"""Registrations and deployments: the platforms the tool trusts, as the CLI manages them and
logins and launches look them up (below services, so lti/ and services/ can both use them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from lti_tool.models.platform import Deployment, Registration
from lti_tool.models.types import utcnow

_BY_ISSUER = select(Registration).where(Registration.issuer == bindparam("issuer")).limit(2)
_BY_ISSUER_AND_CLIENT = (
    select(Registration)
    .where(Registration.issuer == bindparam("issuer"))
    .where(Registration.client_id == bindparam("client_id"))
    .limit(2)
)
_DEPLOYMENT = select(Deployment).where(
    Deployment.registration_id == bindparam("registration"),
    Deployment.deployment_id == bindparam("deployment_id"),
)


class RegistrationError(ValueError):
    """A registration or deployment command got something it cannot use."""


@dataclass(frozen=True)
class NewRegistration:
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    name: str = ""
    token_audience: str | None = None


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistrationError(f"{name}: expected an http(s) URL, got {value!r}")


def _check_new(new: NewRegistration) -> None:
    if not new.issuer.strip():
        raise RegistrationError("issuer: must not be empty")
    if not new.client_id.strip():
        raise RegistrationError("client-id: must not be empty")
    _check_url("auth-login-url", new.auth_login_url)
    _check_url("auth-token-url", new.auth_token_url)
    _check_url("key-set-url", new.key_set_url)


def add_registration(
    session: Session, new: NewRegistration, deployment_ids: list[str]
) -> Registration:
    _check_new(new)
    existing = session.scalar(
        select(Registration).where(
            Registration.issuer == new.issuer, Registration.client_id == new.client_id
        )
    )
    if existing is not None:
        raise RegistrationError(
            f"issuer {new.issuer} with client id {new.client_id} is already registered "
            f"as {existing.uuid}"
        )
    reg = Registration(
        issuer=new.issuer,
        client_id=new.client_id,
        auth_login_url=new.auth_login_url,
        auth_token_url=new.auth_token_url,
        key_set_url=new.key_set_url,
        name=new.name,
        token_audience=new.token_audience,
    )
    session.add(reg)
    session.flush()
    for deployment_id in deployment_ids:
        allow_deployment(session, reg, deployment_id)
    return reg


def save_registration(
    session: Session,
    new: NewRegistration,
    deployment_id: str | None,
    platform_family: str = "other",
) -> tuple[Registration, bool]:
    """A dynamic registration stored: a new row, or the one with the same issuer and client
    id brought up to date (never a second one); True when it is new. Without a deployment
    id the first deployment a launch brings is allowed."""
    _check_new(new)
    reg = session.scalar(
        select(Registration).where(
            Registration.issuer == new.issuer, Registration.client_id == new.client_id
        )
    )
    created = reg is None
    if reg is None:
        reg = Registration(issuer=new.issuer, client_id=new.client_id)
        session.add(reg)
    reg.auth_login_url = new.auth_login_url
    reg.auth_token_url = new.auth_token_url
    reg.key_set_url = new.key_set_url
    reg.name = new.name or reg.name or ""
    reg.token_audience = new.token_audience
    reg.platform_family = platform_family
    session.flush()
    if deployment_id is not None:
        allow_deployment(session, reg, deployment_id)
    elif created or not reg.deployments:
        reg.allow_first_deployment = True
    session.flush()
    return reg, created


def _claim_first_deployment(session: Session, reg: Registration) -> bool:
    """One winner among concurrent first launches: the flag is cleared by one UPDATE."""
    done = session.execute(
        update(Registration)
        .where(Registration.id == reg.id, Registration.allow_first_deployment.is_(True))
        .values(allow_first_deployment=False)
        .execution_options(synchronize_session=False)
    )
    session.expire(reg, ["allow_first_deployment"])
    return bool(getattr(done, "rowcount", 0) == 1)


def find_by_uuid(session: Session, uuid: str) -> Registration | None:
    return session.scalar(select(Registration).where(Registration.uuid == uuid))


def list_registrations(session: Session) -> list[Registration]:
    return list(session.scalars(select(Registration).order_by(Registration.id)))


def find_for_login(
    session: Session, issuer: str, client_id: str | None, uuid: str | None
) -> Registration:
    """The registration a login initiation speaks of, or a RegistrationError saying why not."""
    if uuid is not None:
        reg = find_by_uuid(session, uuid)
        if reg is None:
            raise RegistrationError(f"no registration {uuid}")
        if reg.issuer != issuer:
            raise RegistrationError(
                f"registration {uuid} is for issuer {reg.issuer}, the login came from {issuer}"
            )
        if client_id and reg.client_id != client_id:
            raise RegistrationError(
                f"registration {uuid} has client id {reg.client_id}, the login sent {client_id}"
            )
        return reg
    if client_id:
        found = list(
            session.scalars(_BY_ISSUER_AND_CLIENT, {"issuer": issuer, "client_id": client_id})
        )
    else:
        found = list(session.scalars(_BY_ISSUER, {"issuer": issuer}))
    if not found:
        which = f" with client id {client_id}" if client_id else ""
        raise RegistrationError(f"no registration for issuer {issuer}{which}")
    if len(found) > 1:
        raise RegistrationError(
            f"issuer {issuer} has several registrations and the login sent no client_id: "
            "use the login URL with the registration's UUID (/lti/login/<uuid>)"
        )
    return found[0]


@dataclass(frozen=True)
class RegistrationFacts:
    """What a login needs of a registration, safe to keep across requests."""

    id: int
    issuer: str
    client_id: str
    auth_login_url: str
    key_set_url: str


class RegistrationCache:
    """Per-process cache of login lookups for a few seconds: logins come in bursts when a
    class opens the tool. Only found registrations are kept, so a new one works at once;
    a deleted one is caught at launch, which reads the row."""

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[
            tuple[str, str | None, str | None], tuple[float, RegistrationFacts]
        ] = {}

    def find_for_login(
        self, session: Session, issuer: str, client_id: str | None, uuid: str | None
    ) -> RegistrationFacts:
        key = (issuer, client_id, uuid)
        hit = self._entries.get(key)
        now = self._clock()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        reg = find_for_login(session, issuer, client_id, uuid)
        facts = RegistrationFacts(
            reg.id, reg.issuer, reg.client_id, reg.auth_login_url, reg.key_set_url
        )
        if len(self._entries) > 1000:
            self._entries.clear()
        self._entries[key] = (now, facts)
        return facts


def find_deployment(session: Session, reg: Registration, deployment_id: str) -> Deployment | None:
    return session.scalar(_DEPLOYMENT, {"registration": reg.id, "deployment_id": deployment_id})


def allow_deployment(session: Session, reg: Registration, deployment_id: str) -> Deployment:
    if not deployment_id.strip():
        raise RegistrationError("deployment-id: must not be empty")
    dep = find_deployment(session, reg, deployment_id)
    if dep is None:
        dep = Deployment(registration_id=reg.id, deployment_id=deployment_id)
        session.add(dep)
    if not dep.allowed:
        dep.allowed = True
        dep.allowed_at = utcnow()
    session.flush()
    return dep


def record_deployment(
    session: Session, reg: Registration, deployment_id: str, allowed: bool
) -> Deployment:
    """An unknown deployment seen in a signed launch: kept so the admin can allow it (allowed
    at once when it is the first of a dynamic registration that named none)."""
    if not allowed and reg.allow_first_deployment:
        allowed = _claim_first_deployment(session, reg)
    dep = Deployment(
        registration_id=reg.id,
        deployment_id=deployment_id,
        allowed=allowed,
        allowed_at=utcnow() if allowed else None,
    )
    session.add(dep)
    session.flush()
    return dep
