"""The launch's id_token decoder refuses exactly what PyJWT refuses: a launch whose token
PyJWT would reject (junk bytes, bad padding, a forged signature) must never get through."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS

from lti_tool.lti.id_token_decoder import _StrictSegments, id_token_decoder

SEGMENT_BYTES = st.sampled_from(
    list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!.\x00 \n\xff")
)


def _outcome(decode, segment: bytes) -> bytes | str:
    try:
        return decode(segment, "payload")
    except jwt.DecodeError as exc:
        return f"refused: {exc}"


@settings(max_examples=3000, deadline=None)
@given(st.lists(SEGMENT_BYTES, max_size=14).map(bytes))
def test_every_segment_is_decoded_or_refused_as_pyjwt_does(segment: bytes) -> None:
    assert _outcome(_StrictSegments._decode_base64url_segment, segment) == _outcome(
        PyJWS._decode_base64url_segment, segment
    )


@pytest.mark.parametrize(
    "segment",
    [
        b"",
        b"QQ",
        b"QQ==",
        b"QQ=",
        b"QQ===",
        b"QUI=",
        b"QUJD",
        b"!!!!",
        b"QR",
        b"Q",
        b"QQ\n",
        b"QQ+/",
        b"QQ==QQ",
        b"=",
        b"====",
    ],
)
def test_the_edges_pyjwt_names(segment: bytes) -> None:
    assert _outcome(_StrictSegments._decode_base64url_segment, segment) == _outcome(
        PyJWS._decode_base64url_segment, segment
    )


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: rsa.RSAPrivateKey) -> str:
    now = int(time.time())
    claims = {"iss": "https://lms", "aud": "tool", "exp": now + 60, "iat": now, "nonce": "n"}
    return jwt.encode(claims, key, algorithm="RS256")


def test_a_genuine_token_decodes_with_every_claim(key: rsa.RSAPrivateKey) -> None:
    claims = id_token_decoder().decode(
        _token(key), key.public_key(), algorithms=["RS256"], audience="tool", issuer="https://lms"
    )
    assert claims["nonce"] == "n"


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"), jwt.InvalidSignatureError),
        (lambda t: t + "!!!!", jwt.DecodeError),
        (lambda t: t.replace(".", ".=", 1), jwt.DecodeError),
    ],
    ids=["forged signature", "junk after the signature", "padding inside"],
)
def test_a_damaged_token_is_refused(key: rsa.RSAPrivateKey, damage, error) -> None:
    with pytest.raises(error):
        id_token_decoder().decode(
            damage(_token(key)),
            key.public_key(),
            algorithms=["RS256"],
            audience="tool",
            issuer="https://lms",
        )


def test_the_decoder_uses_the_fast_segments() -> None:
    """If PyJWT renames its hook, this fails instead of the launch silently slowing down."""
    assert isinstance(id_token_decoder()._jws, _StrictSegments)
    assert hasattr(PyJWS, "_decode_base64url_segment")
