"""The rate limits and the Redis prefix are settings an operator can get wrong: a wrong one
stops the start with a message naming it."""

from __future__ import annotations

import pytest

from lti_tool.settings import SettingsError, load_settings


def test_defaults_limit_login_and_launch() -> None:
    s = load_settings(environ={})
    assert (s.rate_limit_login, s.rate_limit_launch, s.redis_prefix) == (
        "300/minute",
        "300/minute",
        "lti_tool",
    )


def test_limits_come_from_the_environment_and_empty_turns_one_off() -> None:
    s = load_settings(
        environ={
            "LTI_TOOL_RATE_LIMIT_LOGIN": "10/second;200/minute",
            "LTI_TOOL_RATE_LIMIT_LAUNCH": "",
        }
    )
    assert (s.rate_limit_login, s.rate_limit_launch) == ("10/second;200/minute", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit_login", "lots"),
        ("rate_limit_launch", "60 a minute"),
        ("redis_prefix", ""),
        ("redis_prefix", "a b"),
        ("redis_prefix", "x*"),
    ],
)
def test_a_wrong_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={}, overrides={name: value})
