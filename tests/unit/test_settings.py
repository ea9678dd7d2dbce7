"""Settings: files, environment overrides, secrets only from the environment, and errors
that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from lti_tool.settings import SettingsError, load_settings


def test_defaults_load() -> None:
    s = load_settings(environ={})
    assert s.environment == "development"
    assert s.jwt_leeway_seconds == 5
    assert s.secret_key  # made up outside production


def test_environment_overrides_file() -> None:
    s = load_settings(
        environ={"LTI_TOOL_JWT_LEEWAY_SECONDS": "10", "LTI_TOOL_SANDBOX_ENABLED": "yes"}
    )
    assert s.jwt_leeway_seconds == 10
    assert s.sandbox_enabled is True


def test_config_file_layer(tmp_path: Path) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text('base_url = "https://tool.school.example"\nhttp_timeout_seconds = 3\n')
    s = load_settings(environ={"LTI_TOOL_CONFIG": str(extra)})
    assert s.base_url == "https://tool.school.example"
    assert s.http_timeout_seconds == 3


@pytest.mark.parametrize("name", ["secret_key", "database_url", "key_encryption_key", "redis_url"])
def test_secrets_refused_in_files(tmp_path: Path, name: str) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text(f'{name} = "x"\n')
    with pytest.raises(SettingsError, match=f"{name} is a secret.*LTI_TOOL_{name.upper()}"):
        load_settings(environ={"LTI_TOOL_CONFIG": str(extra)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LTI_TOOL_JWT_LEEWAY_SECONDS": "abc"},
            "jwt_leeway_seconds .*LTI_TOOL_JWT_LEEWAY_SECONDS",
        ),
        ({"LTI_TOOL_JWT_LEEWAY_SECONDS": "600"}, "jwt_leeway_seconds: expected 0 to 60"),
        ({"LTI_TOOL_BASE_URL": "tool.example"}, "base_url: expected an http"),
        ({"LTI_TOOL_ENVIRONMENT": "staging"}, "environment: expected one of"),
        ({"LTI_TOOL_AUTO_ALLOW_DEPLOYMENTS": "maybe"}, "auto_allow_deployments"),
        ({"LTI_TOOL_DATABASE_URL": "postgres://x/y"}, "database_url: 'postgres://'"),
        ({"LTI_TOOL_KEY_ENCRYPTION_KEY": "short"}, "key_encryption_key: .*Fernet"),
        ({"LTI_TOOL_HTTP_TIMEOUT_SECONDS": "0"}, "http_timeout_seconds"),
        ({"LTI_TOOL_TRUSTED_PROXY_COUNT": "-1"}, "trusted_proxy_count: expected 0 to 10"),
        ({"LTI_TOOL_PASSBACK_CONCURRENCY": "0"}, "passback_concurrency: expected 1 to 64"),
    ],
)
def test_invalid_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env)


def test_production_needs_secrets() -> None:
    base = {"LTI_TOOL_ENVIRONMENT": "production", "LTI_TOOL_BASE_URL": "https://t.example"}
    with pytest.raises(SettingsError, match="secret_key: production needs LTI_TOOL_SECRET_KEY"):
        load_settings(environ=base)
    with pytest.raises(SettingsError, match="database_url: production needs"):
        load_settings(environ={**base, "LTI_TOOL_SECRET_KEY": "k" * 40})
    s = load_settings(
        environ={
            **base,
            "LTI_TOOL_SECRET_KEY": "k" * 40,
            "LTI_TOOL_DATABASE_URL": "postgresql+psycopg://u@db/x",
            "LTI_TOOL_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
    )
    assert s.is_production and "k" * 40 not in repr(s)


def test_unknown_setting_in_file_refused(tmp_path: Path) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text("jwt_leway = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'jwt_leway'"):
        load_settings(environ={"LTI_TOOL_CONFIG": str(extra)})
