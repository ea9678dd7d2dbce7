"""id_token validation: every check of the 1EdTech Security Framework §5.1.3 and LTI 1.3 core.

Covers what pylti1p3 leaves open (see docs/decisions.md): single-use nonce bound to the
state, strict audience and azp, clock leeway, target_link_uri, JWKS refetch on unknown kid.
Nothing is written until the token is proven genuine: then the state is spent (the one write
of an unchanged repeat launch); the one write on refusal is the record of an unknown
deployment, which the spec asks for.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lti_tool.lti.errors import ADMIN_HINT, LaunchError, bad_request, forbidden, not_trusted
from lti_tool.lti.id_token_decoder import id_token_decoder
from lti_tool.lti.login_state import STATE_COOKIE_PREFIX, LoginRecord, LoginStates
from lti_tool.lti.message import LaunchMessage, claim_error, parse_message
from lti_tool.lti.platform_keys import PlatformKeyError, PlatformKeys
from lti_tool.lti.registrations import record_deployment
from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.platform import Deployment, Registration
from lti_tool.settings import Settings
from lti_tool.store import SharedStore, add_on, carrying_add

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Known:
    """The rows a previous launch of this person in this place left, if any."""

    status: str
    fingerprint: str
    user_id: int
    context_id: int
    link_pk: int | None
    roster_synced_at: datetime | None


@dataclass(frozen=True)
class ValidLaunch:
    """A genuine launch from an allowed deployment, and the rows it names."""

    message: LaunchMessage
    registration_id: int
    registration_uuid: str
    # The family the registration row has; the message's may correct it.
    registered_family: str
    deployment_pk: int
    known: Known | None


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def split_token(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The id_token's header and payload, unverified; a damaged token is a 400 in words."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise bad_request(
            "The launch is damaged",
            "The LMS sent a launch token that is not a signed JWT. " + ADMIN_HINT,
            f"launch: id_token has {len(parts)} parts, not 3",
        )
    try:
        header, payload = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the JSON reader too
        raise bad_request(
            "The launch is damaged",
            "The LMS sent a launch token that cannot be read. " + ADMIN_HINT,
            "launch: id_token header or payload is not base64url JSON",
        ) from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise bad_request(
            "The launch is damaged",
            "The LMS sent a launch token that cannot be read. " + ADMIN_HINT,
            "launch: id_token header or payload is not a JSON object",
        )
    return header, payload


def _used_or_expired() -> LaunchError:
    return bad_request(
        "This launch was already used or has expired",
        "Each launch can be used once, within a few minutes. Open the tool again from your course.",
        "launch: state unknown, expired or already consumed (replay?)",
    )


def _untrusted(reason: str, explanation: str = "") -> LaunchError:
    return not_trusted(
        "The launch could not be verified",
        (explanation or "The tool could not confirm that this launch came from your LMS.")
        + " "
        + ADMIN_HINT,
        "launch: " + reason,
    )


def _check_audience(payload: Mapping[str, Any], client_id: str) -> None:
    aud = payload.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not audiences:
        raise _untrusted("aud is missing")
    if client_id not in audiences:
        raise _untrusted(f"aud {audiences!r} does not contain our client id {client_id!r}")
    others = [a for a in audiences if a != client_id]
    if others:
        raise _untrusted(f"aud has audiences the tool does not trust: {others!r}")
    azp = payload.get("azp")
    if len(audiences) > 1 and azp is None:
        raise _untrusted("several audiences and no azp")
    if azp is not None and azp != client_id:
        raise _untrusted(f"azp {azp!r} is not our client id {client_id!r}")


def validate_launch(
    form: Mapping[str, str],
    cookies: Mapping[str, str],
    session: Session,
    store: SharedStore,
    keys: PlatformKeys,
    settings: Settings,
    states: LoginStates,
) -> ValidLaunch:
    id_token = form.get("id_token", "")
    state = form.get("state", "")
    if form.get("error"):
        raise bad_request(
            "The LMS refused the login",
            f"Your LMS answered: {form.get('error_description') or form.get('error')}.",
            f"launch: platform returned error={form.get('error')!r} "
            f"description={form.get('error_description')!r}",
        )
    if not id_token or not state:
        missing = "id_token" if not id_token else "state"
        raise bad_request(
            "The launch is incomplete",
            f"The LMS sent a launch without its {missing}. Open the tool again from your course.",
            f"launch: missing {missing}",
        )
    expires = states.expires(state)
    if expires is None:  # not issued by the tool, or expired
        raise _used_or_expired()
    record = states.open(state, cookies.get(STATE_COOKIE_PREFIX + state))
    if record is None:
        if states.spent(store, state):
            raise _used_or_expired()
        raise bad_request(
            "Your browser did not keep the login",
            "This browser did not return the cookie the tool set a moment ago, so the tool "
            "cannot tell that the login started here. Open the tool again from your course; "
            "if this keeps happening, your browser blocks the tool's cookies in the LMS page: "
            "open the tool in a new window.",
            "launch: state cookie missing or different (state mismatch or cookies blocked)",
        )
    message = check_token(id_token, record, keys, settings)
    # The token is genuine and answers this login: its one use is spent with the lookup (in
    # the same statement on PostgreSQL, the same short transaction on SQLite, before it with
    # Redis), and a second post of it, on any process, is
    # refused. A refused launch spends nothing, and a repeat of it is refused the same way.
    spend = states.spend_params(store, state, expires)
    if spend is None and not states.spend(store, state, expires):
        raise _used_or_expired()
    return lookup(session, record.registration, message, settings, spend)


_DECODER = id_token_decoder()


def check_token(
    id_token: str, record: LoginRecord, keys: PlatformKeys, settings: Settings
) -> LaunchMessage:
    """Every check of the id_token against the login's record (the state already proven)."""
    header, payload = split_token(id_token)
    alg = header.get("alg")
    if alg != "RS256":
        raise _untrusted(f"alg {alg!r} refused; only RS256 is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _untrusted("id_token header has no kid")

    issuer, client_id, key_set_url = record.issuer, record.client_id, record.key_set_url
    if payload.get("iss") != issuer:
        raise _untrusted(f"iss {payload.get('iss')!r} is not the registration's issuer {issuer!r}")
    _check_audience(payload, client_id)

    try:
        key = keys.key_for(key_set_url, kid)
    except PlatformKeyError as exc:
        raise LaunchError(
            502,
            "The LMS's keys could not be fetched",
            "The tool could not download your LMS's public keys to check this launch. "
            "Try again in a minute. " + ADMIN_HINT,
            f"launch: {exc}",
        ) from None
    if key is None:
        raise _untrusted(
            f"kid {kid!r} is not in the platform's key set {key_set_url} "
            "(the key cache's log line says whether it was refetched)"
        )
    try:
        claims: dict[str, Any] = _DECODER.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise _untrusted(
            "id_token expired",
            "The launch expired before it reached the tool (the LMS's and the tool's clocks "
            "may differ).",
        ) from None
    except jwt.ImmatureSignatureError:
        raise _untrusted(
            "id_token iat is in the future beyond the leeway",
            "The launch is dated in the future (the LMS's and the tool's clocks differ).",
        ) from None
    except jwt.InvalidSignatureError:
        raise _untrusted("id_token signature does not verify (tampered?)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _untrusted(f"id_token lacks the {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        raise _untrusted(f"id_token refused by PyJWT: {exc}") from None

    if not hmac.compare_digest(str(claims.get("nonce", "")), record.nonce):
        raise _untrusted("nonce does not match the one issued for this state")

    message = parse_message(claims)
    if message.target_link_uri != record.target_link_uri:
        raise claim_error(
            f"launch: target_link_uri {message.target_link_uri!r} differs from the login's "
            f"{record.target_link_uri!r}",
            "The launch opens something else than the login asked for.",
        )
    return message


# One round trip after the token is proven: the registration, the deployment and what a
# previous launch of this person in this place recorded (built once per process).
_LOOKUP = (
    select(
        Registration.uuid,
        Registration.platform_family,
        Deployment.id,
        Deployment.allowed,
        Membership.status,
        Membership.launch_fingerprint,
        User.id,
        Context.id,
        ResourceLink.id,
        Context.roster_synced_at,
    )
    .select_from(Registration)
    .outerjoin(
        Deployment,
        and_(
            Deployment.registration_id == Registration.id,
            Deployment.deployment_id == bindparam("deployment_id"),
        ),
    )
    .outerjoin(
        Context,
        and_(
            Context.deployment_id == Deployment.id,
            Context.id_on_platform == bindparam("id_on_platform"),
        ),
    )
    .outerjoin(User, and_(User.registration_id == Registration.id, User.sub == bindparam("sub")))
    .outerjoin(Membership, and_(Membership.context_id == Context.id, Membership.user_id == User.id))
    .outerjoin(
        ResourceLink,
        and_(
            ResourceLink.context_id == Context.id,
            ResourceLink.resource_link_id == bindparam("link_id"),
        ),
    )
    .where(Registration.id == bindparam("registration"))
)
# The same, spending the login state in a WITH (PostgreSQL's database store): one round trip.
_LOOKUP_SPENDING = carrying_add(_LOOKUP)


def _looked_up(
    session: Session, params: dict[str, Any], spend: dict[str, Any] | None
) -> Sequence[Any] | None:
    """The lookup's row, the state spent with it (`spend`: the store's add parameters), in
    a transaction of their own: the spend is final at once, whatever the request does next,
    and an unchanged repeat launch needs the request's transaction for nothing."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):  # a session bound to a caller's connection
        if spend is not None and not add_on(session.connection(), spend):
            raise _used_or_expired()
        return session.connection().execute(_LOOKUP, params).first()
    if bind.dialect.name == "postgresql":
        # One statement, atomic by itself (the spend in its WITH): in autocommit it costs
        # one round trip where BEGIN, the statement and COMMIT cost three.
        statement = _LOOKUP if spend is None else _LOOKUP_SPENDING
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(statement, params | (spend or {})).first()
        if row is None or spend is None:
            return row
        *found, spent = row
        if not spent:
            raise _used_or_expired()
        return found
    # SQLite: the add and the read, committed at once, so the database's one write lock is
    # held for two statements, not for the rest of the request (as a second web process
    # waits for it).
    with bind.begin() as conn:
        if spend is not None and not add_on(conn, spend):
            raise _used_or_expired()
        return conn.execute(_LOOKUP, params).first()


def lookup(
    session: Session,
    registration_id: int,
    message: LaunchMessage,
    settings: Settings,
    spend: dict[str, Any] | None = None,
) -> ValidLaunch:
    deployment_id = message.deployment_id
    params = {
        "registration": registration_id,
        "deployment_id": deployment_id,
        "id_on_platform": message.context_id,
        "sub": message.sub,
        "link_id": message.resource_link_id or "",
    }
    row = _looked_up(session, params, spend)
    if row is None:
        raise _untrusted("the registration of this login was deleted meanwhile")
    uuid, family, dep_pk, allowed, status, fingerprint, user_pk, context_id, link_pk, synced = row
    if dep_pk is None:
        reg = session.get(Registration, registration_id)
        assert reg is not None
        dep = record_deployment(session, reg, deployment_id, settings.auto_allow_deployments)
        log.warning(
            "unknown deployment %r of registration %s recorded (allowed=%s)",
            deployment_id,
            uuid,
            dep.allowed,
        )
        dep_pk, allowed = dep.id, dep.allowed
    if not allowed:
        raise forbidden(
            "This installation of the tool is not allowed yet",
            "Your LMS administrator installed the tool in a place the tool has not been "
            "told about. They can allow it with: lti-tool deployment allow "
            f"--registration {uuid} --deployment-id {deployment_id}",
            f"launch: deployment {deployment_id!r} of registration {uuid} is not allowed",
        )
    known = None
    if status is not None:
        known = Known(status, fingerprint, user_pk, context_id, link_pk, synced)
    return ValidLaunch(
        message=message,
        registration_id=registration_id,
        registration_uuid=uuid,
        registered_family=family,
        deployment_pk=dep_pk,
        known=known,
    )
