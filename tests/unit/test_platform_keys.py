"""The platform key cache's refetch spacing, on a clock the test moves."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lti_tool.lti.platform_keys import PlatformKeys

URL = "https://lms.example/jwks"


def _jwk(kid: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, "alg": "RS256", "use": "sig"}


class Platform:
    """The platform's JWKS endpoint: publishes what the test says, counts downloads."""

    def __init__(self, *kids: str) -> None:
        self.keys = [_jwk(k) for k in kids]
        self.downloads = 0

    def get_json(self, url: str) -> Any:
        self.downloads += 1
        return {"keys": list(self.keys)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_spacing_counts_from_the_last_unknown_kid_refetch(caplog) -> None:
    caplog.set_level(logging.INFO, logger="lti_tool.lti.platform_keys")
    platform, clock = Platform("a"), Clock()
    keys = PlatformKeys(platform, ttl=3600, refetch_interval=5, clock=clock)
    assert keys.key_for(URL, "a") is not None
    assert platform.downloads == 1

    platform.keys.append(_jwk("b"))  # rotated a second after the first download
    clock.now += 1
    assert keys.key_for(URL, "b") is not None
    assert platform.downloads == 2
    assert "refetched the key set, the kid is now known" in caplog.text

    caplog.clear()
    clock.now += 1  # a forged kid right after that refetch: no second refetch
    assert keys.key_for(URL, "forged") is None
    assert platform.downloads == 2
    assert "not refetched" in caplog.text and "1.0 s ago" in caplog.text

    platform.keys.append(_jwk("c"))
    clock.now += 5  # the spacing has passed since the refetch
    assert keys.key_for(URL, "c") is not None
    assert platform.downloads == 3


def test_a_kid_missing_from_a_fresh_download_is_not_fetched_twice(caplog) -> None:
    caplog.set_level(logging.INFO, logger="lti_tool.lti.platform_keys")
    platform, clock = Platform("a"), Clock()
    keys = PlatformKeys(platform, ttl=3600, refetch_interval=5, clock=clock)
    assert keys.key_for(URL, "nope") is None
    assert platform.downloads == 1
    assert "downloaded just now" in caplog.text


@pytest.mark.parametrize("interval", [0, 5])
def test_refetch_still_missing_is_logged_as_such(caplog, interval: int) -> None:
    caplog.set_level(logging.INFO, logger="lti_tool.lti.platform_keys")
    platform, clock = Platform("a"), Clock()
    keys = PlatformKeys(platform, ttl=3600, refetch_interval=interval, clock=clock)
    keys.key_for(URL, "a")
    clock.now += 10
    assert keys.key_for(URL, "gone") is None
    assert platform.downloads == 2
    assert "refetched the key set, still not in it" in caplog.text
