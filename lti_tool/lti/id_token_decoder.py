"""PyJWT's decoder with its base64url alphabet check done by one regular expression: PyJWT
2.15 tests each byte of a 3–4 KB id_token in a Python loop, a fifth of a launch's CPU."""

from __future__ import annotations

import binascii
import re

from jwt import PyJWT
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

_ALPHABET_ONLY = re.compile(rb"[A-Za-z0-9_-]*")


class _StrictSegments(PyJWS):
    """The same refusals as PyJWS._decode_base64url_segment (tests compare the two on hostile
    input), with the per-byte loop replaced."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2:
            raise DecodeError(f"Invalid {name} padding")
        if padding and len(segment) % 4 != 0:
            raise DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or not _ALPHABET_ONLY.fullmatch(stripped):
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


def id_token_decoder() -> PyJWT:
    """A PyJWT whose signature layer is _StrictSegments; every claim check stays PyJWT's."""
    decoder = PyJWT()
    decoder._jws = _StrictSegments(options=decoder._get_sig_options())
    return decoder
