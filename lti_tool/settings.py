"""Typed settings: the defaults below, then LTI_TOOL_CONFIG's file, then LTI_TOOL_* variables.

The dataclass is the one place a default is written (config/production.toml is an example of
a site file). Secrets are read from the environment only, so a config file checked into a
deployment repository can never carry them.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ENV_PREFIX = "LTI_TOOL_"
SECRET_NAMES = ("secret_key", "database_url", "key_encryption_key", "redis_url")
ENVIRONMENTS = ("development", "demo", "test", "production")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it so an operator can fix it."""


@dataclass(frozen=True)
class Settings:
    # development | demo | test | production
    environment: str = "development"
    # The public base URL of the tool, as the platforms and browsers reach it.
    base_url: str = "http://127.0.0.1:5000"
    # Platform JWKS are cached this long; an unknown kid refetches at most once per interval.
    jwks_cache_seconds: int = 3600
    jwks_refetch_min_interval_seconds: int = 5
    # Clock skew allowed on exp/iat of id_tokens (Moodle's tokens live 60 s: keep this small).
    jwt_leeway_seconds: int = 5
    # Timeout of every outbound HTTP request (JWKS, tokens, services).
    http_timeout_seconds: float = 5.0
    # Calls to platform services are tried this many times (connection errors, 5xx, 429,
    # Canvas' 403 rate limit), backing off exponentially with jitter up to this many seconds.
    http_max_attempts: int = 5
    http_max_backoff_seconds: float = 30.0
    # Roster (NRPS): members asked for per page, and how old a course's roster may get before
    # a launch in it starts a sync in the background (0: never on launch).
    nrps_page_size: int = 50
    roster_max_age_seconds: int = 86400
    # Score passback: a worker holds a score this long while it posts it; if the worker dies,
    # another takes the score after that.
    passback_lease_seconds: int = 120
    # Scores one worker posts at once to one platform (threads, and kept-alive connections per
    # platform host): enough to hide each post's round trip, few enough not to flood an LMS.
    passback_concurrency: int = 8
    # Scheduled syncs (RQ workers): every interval, each platform gets at most this many
    # course syncs started (the stalest courses first), so one LMS is never flooded.
    sync_interval_seconds: int = 3600
    sync_courses_per_platform: int = 5
    # How long a login may take between initiation and launch.
    login_state_seconds: int = 600
    # How long a launch session lasts in the browser.
    launch_session_seconds: int = 28800
    # Allow deployments the admin has not allowed yet (they are still recorded).
    auto_allow_deployments: bool = False
    # Anyone may run LTI Dynamic Registration at /lti/register (off: only with an invite URL
    # from `lti-tool registration invite`).
    registration_open: bool = False
    # Tool keys: a rotated key is published this long before it signs, and an old key stays
    # published this long after it stopped signing.
    key_publish_ahead_seconds: int = 86400
    key_retire_after_seconds: int = 604800
    # The built-in sandbox platform (never on in production unless set in a file or the
    # environment).
    sandbox_enabled: bool = False
    # Where the sandbox platform is reached; another host name than base_url, so the browser
    # treats platform and tool as different sites, as with a real LMS.
    sandbox_base_url: str = "http://localhost:5000"
    log_level: str = "INFO"
    # Per-client limits on the LTI login and launch, which anyone can call without logging in
    # (the `limits` library's syntax, e.g. "300/minute" or "20/second;300/minute"; "" for none). A
    # client is its address as the tool sees it (behind a proxy, see trusted_proxy_count); a
    # school behind one NAT address shares one budget. Counted in Redis when
    # LTI_TOOL_REDIS_URL is set (all processes together), otherwise in each process's memory.
    rate_limit_login: str = "300/minute"
    rate_limit_launch: str = "300/minute"
    # Prefix of every Redis key and the RQ queue name: deployments may share one Redis.
    redis_prefix: str = "lti_tool"
    # How many reverse proxies (load balancer, nginx) stand in front of the tool: their
    # X-Forwarded-For/-Proto/-Host/-Port headers are trusted for that many hops, so logs and
    # rate limits see the client, not the proxy. 0: the headers are ignored (anyone can send
    # them).
    trusted_proxy_count: int = 0
    # Hosts a module's content may embed video from (https only; space- or comma-separated).
    # The pages' CSP names exactly these in frame-src.
    video_hosts: str = "youtube-nocookie.com www.youtube-nocookie.com player.vimeo.com"
    # Secrets: environment only.
    secret_key: str = field(default="", repr=False)
    database_url: str = field(default="", repr=False)
    key_encryption_key: str = field(default="", repr=False)
    redis_url: str = field(default="", repr=False)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def url(self, path: str) -> str:
        """An absolute URL of the tool, as platforms must be given it."""
        return self.base_url.rstrip("/") + path

    def sandbox_url(self, path: str) -> str:
        return self.sandbox_base_url.rstrip("/") + path


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw: object, source: str) -> object:
    kind = type(_FIELDS[name].default)
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} (from {source}): expected true or false, got {raw!r}")
    if kind in (int, float):
        if isinstance(raw, bool):
            raise SettingsError(f"{name} (from {source}): expected a number, got {raw!r}")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} (from {source}): expected a number, got {raw!r}") from None
    if not isinstance(raw, str):
        raise SettingsError(f"{name} (from {source}): expected text, got {raw!r}")
    return raw


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def _apply_file(values: dict[str, object], path: Path) -> None:
    for name, raw in _read_toml(path).items():
        if name in SECRET_NAMES:
            env = ENV_PREFIX + name.upper()
            raise SettingsError(
                f"{name} is a secret: set it in the environment ({env}), not in {path}"
            )
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {name!r} in {path}")
        values[name] = _coerce(name, raw, str(path))


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Build validated settings; raises SettingsError naming the first bad setting."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    extra = environ.get(ENV_PREFIX + "CONFIG")
    if extra:
        _apply_file(values, Path(extra))
    for name in _FIELDS:
        env = ENV_PREFIX + name.upper()
        if env in environ:
            values[name] = _coerce(name, environ[env], env)
    for name, raw in (overrides or {}).items():
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {name!r}")
        values[name] = _coerce(name, raw, "overrides")
    settings = Settings(**values)  # type: ignore[arg-type]
    return _validated(_with_generated_secrets(settings))


def _with_generated_secrets(settings: Settings) -> Settings:
    """Outside production a missing secret key is made up per process start."""
    if settings.secret_key or settings.environment == "production":
        return settings
    return dataclasses.replace(settings, secret_key=secrets.token_urlsafe(32))


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}: expected an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name}: must not have a query or fragment: {value!r}")


def _check_rate_limit(name: str, value: str) -> None:
    if not value:
        return
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(
            f"{name}: expected a rate such as '300/minute' or '10/second;300/minute' "
            f"(or empty for none), got {value!r}"
        ) from None


def _validated(s: Settings) -> Settings:
    if s.environment not in ENVIRONMENTS:
        raise SettingsError(
            f"environment: expected one of {', '.join(ENVIRONMENTS)}, got {s.environment!r}"
        )
    _check_url("base_url", s.base_url)
    _check_url("sandbox_base_url", s.sandbox_base_url)
    if not 0 <= s.jwt_leeway_seconds <= 60:
        raise SettingsError(
            f"jwt_leeway_seconds: expected 0 to 60 seconds, got {s.jwt_leeway_seconds}"
        )
    if not 0 < s.http_timeout_seconds <= 60:
        raise SettingsError(
            f"http_timeout_seconds: expected more than 0 and at most 60, "
            f"got {s.http_timeout_seconds}"
        )
    if not 60 <= s.sync_interval_seconds <= 7 * 86400:
        raise SettingsError(
            f"sync_interval_seconds: expected 60 to 604800, got {s.sync_interval_seconds}"
        )
    if not 1 <= s.sync_courses_per_platform <= 1000:
        raise SettingsError(
            f"sync_courses_per_platform: expected 1 to 1000, got {s.sync_courses_per_platform}"
        )
    if not 1 <= s.passback_lease_seconds <= 3600:
        raise SettingsError(
            f"passback_lease_seconds: expected 1 to 3600, got {s.passback_lease_seconds}"
        )
    if not 1 <= s.passback_concurrency <= 64:
        raise SettingsError(f"passback_concurrency: expected 1 to 64, got {s.passback_concurrency}")
    for name in (
        "jwks_cache_seconds",
        "login_state_seconds",
        "launch_session_seconds",
    ):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be positive, got {getattr(s, name)}")
    if not 1 <= s.http_max_attempts <= 20:
        raise SettingsError(f"http_max_attempts: expected 1 to 20, got {s.http_max_attempts}")
    if not 0 <= s.trusted_proxy_count <= 10:
        raise SettingsError(
            f"trusted_proxy_count: expected 0 to 10 proxy hops, got {s.trusted_proxy_count}"
        )
    if not 1 <= s.nrps_page_size <= 1000:
        raise SettingsError(f"nrps_page_size: expected 1 to 1000, got {s.nrps_page_size}")
    for name in (
        "roster_max_age_seconds",
        "http_max_backoff_seconds",
        "jwks_refetch_min_interval_seconds",
        "key_publish_ahead_seconds",
        "key_retire_after_seconds",
    ):
        if getattr(s, name) < 0:
            raise SettingsError(f"{name}: must not be negative, got {getattr(s, name)}")
    for name in ("rate_limit_login", "rate_limit_launch"):
        _check_rate_limit(name, getattr(s, name))
    if not s.redis_prefix or not s.redis_prefix.replace("_", "").replace("-", "").isalnum():
        raise SettingsError(
            f"redis_prefix: expected letters, digits, '_' or '-', got {s.redis_prefix!r}"
        )
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"log_level: expected DEBUG, INFO, WARNING or ERROR: {s.log_level!r}")
    if s.is_production:
        if len(s.secret_key) < 32:
            raise SettingsError(
                "secret_key: production needs LTI_TOOL_SECRET_KEY of at least 32 characters"
            )
        if not s.database_url:
            raise SettingsError("database_url: production needs LTI_TOOL_DATABASE_URL")
        if not s.base_url.startswith("https://"):
            raise SettingsError(f"base_url: production needs an https URL, got {s.base_url!r}")
    if s.database_url.startswith("postgres://"):
        raise SettingsError(
            "database_url: 'postgres://' is not a SQLAlchemy URL; "
            "use postgresql+psycopg://user@host:5432/db"
        )
    if s.key_encryption_key:
        from cryptography.fernet import Fernet

        try:
            Fernet(s.key_encryption_key.encode())
        except (ValueError, TypeError):
            raise SettingsError(
                "key_encryption_key: LTI_TOOL_KEY_ENCRYPTION_KEY must be a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with `lti-tool keys new-kek`)"
            ) from None
    return s
