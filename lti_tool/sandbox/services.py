"""What the sandbox's service endpoints share: the request's database session, the platform
and course they address, and the bearer-token check of LTI Advantage (1EdTech Security
Framework §4: the access token the token endpoint issued, its tool and its scopes).

Each shape answers its refusals the way its platform does: Canvas with a JSON
`{"errors": {"type", "message"}}` body, Moodle with a bare `[]` and the reason in the status
line only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, g, request
from itsdangerous import URLSafeTimedSerializer
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.clients.http import HttpError, RequestsHttpClient
from lti_tool.models.store import StoreEntry
from lti_tool.runtime import Runtime
from lti_tool.sandbox.cache import TTLCache
from lti_tool.sandbox.faults import FAULTS_TTL, FaultPlan, FaultSettings
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
)
from lti_tool.sandbox.platform import PlatformUrls
from lti_tool.settings import Settings
from lti_tool.store import DatabaseStore

log = logging.getLogger("lti_tool.sandbox")

SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM = SCOPE + "lineitem"
LINEITEM_READ = SCOPE + "lineitem.readonly"
RESULT_READ = SCOPE + "result.readonly"
SCORE = SCOPE + "score"
MEMBERSHIP_READ = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
CANVAS_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    412: "precondition_failed",
    422: "unprocessable_entity",
}


# Snapshots of the rows a service call needs, kept per process (see Sandbox): platforms,
# courses and tools are made by seeding and never change through the sandbox's own pages.


@dataclass(frozen=True, slots=True)
class PlatformRow:
    id: int
    slug: str
    shape: str
    name: str
    issuer: str


@dataclass(frozen=True, slots=True)
class CourseRow:
    id: int
    platform_id: int
    lti_context_id: str
    title: str
    label: str


@dataclass(frozen=True, slots=True)
class ToolRow:
    id: int
    platform_id: int
    deployment_id: str


# Built once per process: statement construction costs more than execution on SQLite.
_PLATFORM = select(
    SandboxPlatform.id,
    SandboxPlatform.slug,
    SandboxPlatform.shape,
    SandboxPlatform.name,
    SandboxPlatform.issuer,
).where(SandboxPlatform.slug == bindparam("slug"))
_COURSE_COLUMNS = (
    SandboxCourse.id,
    SandboxCourse.platform_id,
    SandboxCourse.lti_context_id,
    SandboxCourse.title,
    SandboxCourse.label,
)
_COURSE = select(*_COURSE_COLUMNS).where(SandboxCourse.id == bindparam("id"))
_COURSE_BY_CONTEXT = (
    select(*_COURSE_COLUMNS)
    .where(
        SandboxCourse.platform_id == bindparam("platform"),
        SandboxCourse.lti_context_id == bindparam("context"),
    )
    .order_by(SandboxCourse.id)
    .limit(1)
)
_TOOL = select(SandboxTool.id, SandboxTool.platform_id, SandboxTool.deployment_id).where(
    SandboxTool.id == bindparam("id")
)
_LINKED = (
    select(SandboxLink.id)
    .where(SandboxLink.course_id == bindparam("course"), SandboxLink.tool_id == bindparam("tool"))
    .limit(1)
)
# What DatabaseStore.get reads, with the expiry: a token is then trusted until it expires.
_TOKEN = select(StoreEntry.value, StoreEntry.expires_at).where(
    StoreEntry.key == bindparam("key"), StoreEntry.expires_at > bindparam("now")
)
STATIC_TTL = 5.0


@dataclass(frozen=True)
class DriverSql:
    """A Core statement compiled once for PostgreSQL, to run on psycopg's own connection: a
    score post's read and write cost SQLAlchemy's execution machinery (cache key, execution
    context, result wrapping) half as much again as psycopg's own work. Values go to psycopg
    as they are: no type processing, so datetimes must be aware, and read ones made UTC."""

    sql: str
    fixed: dict[str, Any]

    @classmethod
    def of(cls, statement: Any) -> DriverSql:
        from sqlalchemy.dialects.postgresql.psycopg import dialect

        compiled = statement.compile(dialect=dialect())
        fixed = {k: v for k, v in compiled.params.items() if v is not None}
        return cls(str(compiled), fixed)

    def run(self, driver: Any, params: dict[str, Any]) -> Any:
        """The statement's first row (a tuple), or None."""
        return driver.execute(self.sql, {**self.fixed, **params}).fetchone()


class ServiceError(Exception):
    """A refusal, rendered in the platform's own way by `error_response`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Sandbox:
    """The sandbox app's shared parts (app.extensions["sandbox"]; `current_sandbox()`)."""

    settings: Settings
    rt: Runtime
    http: RequestsHttpClient
    # Per-process lookups, so that a service call costs one or two queries: rows only an
    # admin changes, trusted for a few seconds (platforms by slug, courses, tools); things
    # that never change once made (course-and-tool pairs that have a link); access tokens
    # until they expire (token -> (store entry, expires_at)).
    platforms: TTLCache[str, PlatformRow] = field(default_factory=lambda: TTLCache(STATIC_TTL))
    courses: TTLCache[Any, CourseRow] = field(default_factory=lambda: TTLCache(STATIC_TTL))
    tools: TTLCache[int, ToolRow] = field(default_factory=lambda: TTLCache(STATIC_TTL))
    linked: set[tuple[int, int]] = field(default_factory=set)
    tokens: dict[str, tuple[Any, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # AGS user lookups: platform id -> (user count when loaded, {lti_sub: user id},
    # {user id: lti_sub}); users are never renamed or deleted, so the maps are reloaded only
    # when the platform has new users (see ags_access.find_user).
    subs: dict[int, tuple[int, dict[str, int], dict[int, str]]] = field(default_factory=dict)
    # The fault switch: call counters, and each platform's switch read at most once per
    # FAULTS_TTL (see fault_endpoints).
    fault_plan: FaultPlan = field(default_factory=FaultPlan)
    fault_settings: TTLCache[int, FaultSettings] = field(
        default_factory=lambda: TTLCache(FAULTS_TTL)
    )

    @property
    def secret(self) -> str:
        """The sandbox's own secret (its session cookie, its login hints), from the tool's."""
        return hashlib.sha256(("sandbox:" + self.settings.secret_key).encode()).hexdigest()

    @property
    def hints(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="lti-message-hint")

    def db(self) -> Session:
        if "db" not in g:
            g.db = self.rt.session_factory()
        return g.db  # type: ignore[no-any-return]

    def autocommit(self) -> None:
        """This request's statements each commit by themselves (PostgreSQL; elsewhere the
        request's transaction as before): a score post reads, then writes once, and BEGIN
        and COMMIT were two of its four round trips. Under READ COMMITTED the read saw no more
        in the write's transaction than it does before it. A cached row a hook read before
        (its session's transaction holds only reads) ends with the request as before."""
        if self.rt.engine.dialect.name != "postgresql" or "autocommit_conn" in g:
            return
        conn = self.rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        g.conn = g.autocommit_conn = conn

    def driver(self) -> Any | None:
        """psycopg's own connection when this request runs in autocommit (`autocommit`),
        for statements compiled once (`DriverSql`); None otherwise."""
        conn = g.get("autocommit_conn")
        return None if conn is None else conn.connection.driver_connection

    def conn(self) -> Connection:
        """The request's connection (in the session's transaction), for Core statements;
        kept until that transaction ends (asking the session again cost a score post 5 %)."""
        conn: Connection | None = g.get("conn")
        if conn is None or conn.closed:
            conn = g.conn = self.db().connection()
        return conn

    def store(self) -> DatabaseStore:
        return DatabaseStore(self.db())

    def urls(self, platform: SandboxPlatform | PlatformRow) -> PlatformUrls:
        return PlatformUrls(self.settings.sandbox_base_url, platform)

    def platform(self, slug: str, shape: str | None = None) -> PlatformRow:
        platform = self.find_platform(slug)
        if platform is None or (shape is not None and platform.shape != shape):
            abort(404)
        return platform

    def find_platform(self, slug: str) -> PlatformRow | None:
        platform = self.platforms.get(slug)
        if platform is None:
            row = self.conn().execute(_PLATFORM, {"slug": slug}).one_or_none()
            if row is None:
                return None
            platform = PlatformRow(*row)
            self.platforms.put(slug, platform)
        return platform

    def course(self, course_id: int) -> CourseRow | None:
        course = self.courses.get(course_id)
        if course is None:
            row = self.conn().execute(_COURSE, {"id": course_id}).one_or_none()
            if row is None:
                return None
            course = CourseRow(*row)
            self.courses.put(course_id, course)
        return course

    def course_by_context(self, platform_id: int, context_id: str) -> CourseRow | None:
        key = (platform_id, context_id)
        course = self.courses.get(key)
        if course is None:
            row = (
                self.conn()
                .execute(_COURSE_BY_CONTEXT, {"platform": platform_id, "context": context_id})
                .one_or_none()
            )
            if row is None:
                return None
            course = CourseRow(*row)
            self.courses.put(key, course)
        return course

    def tool(self, tool_id: Any) -> ToolRow | None:
        if not isinstance(tool_id, int) or isinstance(tool_id, bool):
            return None
        tool = self.tools.get(tool_id)
        if tool is None:
            row = self.conn().execute(_TOOL, {"id": tool_id}).one_or_none()
            if row is None:
                return None
            tool = ToolRow(*row)
            self.tools.put(tool_id, tool)
        return tool

    def is_linked(self, course_id: int, tool_id: int) -> bool:
        """Whether the tool has a link in the course (links are never removed)."""
        if (course_id, tool_id) in self.linked:
            return True
        found = self.conn().execute(_LINKED, {"course": course_id, "tool": tool_id}).first()
        if found is None:
            return False
        self.linked.add((course_id, tool_id))
        return True

    def token_entry(self, token: str) -> Any:
        """The store entry of an access token the token endpoint issued (as
        `store().get("sandbox_token:…")` answers it), kept in process until it expires."""
        now = int(time.time())
        hit = self.tokens.get(token)
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            self.tokens.pop(token, None)
        row = (
            self.conn().execute(_TOKEN, {"key": f"sandbox_token:{token}", "now": now}).one_or_none()
        )
        if row is None:
            return None
        entry = json.loads(row.value)
        with self.lock:
            if len(self.tokens) >= 10_000:
                kept = {k: v for k, v in self.tokens.items() if v[1] > now}
                self.tokens = kept if len(kept) < 5_000 else {}
            self.tokens[token] = (entry, row.expires_at)
        return entry


def current_sandbox() -> Sandbox:
    """The Sandbox of the app handling this request."""
    return current_app.extensions["sandbox"]  # type: ignore[no-any-return]


def json_response(body: Any, content_type: str, status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type=f"{content_type}; charset=utf-8",
    )


def error_response(shape: str, err: ServiceError, moodle_body: str = "[]") -> Response:
    log.warning(
        "sandbox %s refused %s %s: %s %s",
        shape,
        request.method,
        request.full_path,
        err.status,
        err.message,
    )
    if shape == "canvas":
        return Response(
            json.dumps(
                {"errors": {"type": CANVAS_TYPES.get(err.status, "error"), "message": err.message}}
            ),
            status=err.status,
            content_type="application/json; charset=utf-8",
        )
    # Moodle: the reason goes in the status line only (mod/lti/classes/local/ltiservice/response).
    reason = " ".join(err.message.split()).encode("latin-1", "replace").decode("latin-1")
    return Response(
        moodle_body,
        status=f"{err.status} {reason or REASONS.get(err.status, '')}",
        content_type="application/json; charset=utf-8",
    )


def service_view(shape: str, view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a service view so a ServiceError becomes the platform's refusal."""

    def wrapped(**kwargs: Any) -> Response:
        try:
            return view(**kwargs)
        except ServiceError as err:
            return error_response(shape, err)

    wrapped.__name__ = view.__name__
    return wrapped


@dataclass(frozen=True)
class Caller:
    """The tool behind a valid access token, and the scopes the token carries."""

    tool: ToolRow
    scopes: frozenset[str]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(
    sb: Sandbox,
    platform: PlatformRow,
    course: CourseRow,
    any_of: Iterable[str],
    scope_status: int,
) -> Caller:
    """The caller of a service call on `course`, or a ServiceError: 401 without a valid
    token (missing, unknown or expired), when the token's tool is not this platform's or
    has no link in the course; `scope_status` when no scope of `any_of` was granted."""
    token = bearer_token()
    if token is None:
        raise ServiceError(401, "Missing access token")
    entry = sb.token_entry(token)
    if not isinstance(entry, dict):
        raise ServiceError(401, "Invalid or expired access token")
    tool = sb.tool(entry.get("tool"))
    if tool is None or tool.platform_id != platform.id:
        raise ServiceError(401, "Access token not issued by this platform")
    if not sb.is_linked(course.id, tool.id):
        raise ServiceError(401, "Access Token not linked to a Tool associated with this Context")
    scopes = frozenset(entry.get("scopes") or [])
    if not scopes.intersection(any_of):
        raise ServiceError(scope_status, "Insufficient permissions")
    return Caller(tool, scopes)


def canvas_course(sb: Sandbox, platform: PlatformRow, course_id: int) -> CourseRow:
    course = sb.course(course_id)
    if course is None or course.platform_id != platform.id:
        raise ServiceError(404, "Context not found")
    return course


def moodle_course(sb: Sandbox, platform: PlatformRow, context_id: str) -> CourseRow:
    course = sb.course_by_context(platform.id, context_id)
    if course is None:
        raise ServiceError(404, f"Not Found: Course {context_id} doesn't exist")
    return course


def tool_key(tool: SandboxTool, kid: str | None, http: RequestsHttpClient) -> Any:
    """The tool's public key `kid`, from its JWKS as cached; refetched over HTTP when the
    kid is unknown (the tool may have rotated). None when the tool does not publish it."""

    def find(jwks: dict[str, Any] | None) -> Any:
        for jwk in (jwks or {}).get("keys", []):
            if jwk.get("kid") == kid:
                return RSAAlgorithm.from_jwk(jwk)
        return None

    key = find(tool.jwks_cache)
    if key is not None:
        return key
    try:
        tool.jwks_cache = http.get_json(tool.jwks_url)
    except HttpError as exc:
        log.warning("sandbox could not fetch the tool's JWKS: %s", exc)
        return None
    return find(tool.jwks_cache)


def read_json_body() -> Any:
    """The request body as JSON (whatever the content type says), or a 400."""
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise ServiceError(400, "The body is not JSON") from None
