"""Cookies that survive inside an LMS iframe: `Secure; SameSite=None; Partitioned`.

Chromium stores no cookie for a cross-site frame without `Partitioned` (seen with a real
Moodle 4.5); browsers treat http://127.0.0.1 and http://localhost as secure contexts, so the
same attributes work for the plain-HTTP demo too (shared/TOOLCHAIN.md).
"""

from __future__ import annotations

from flask import Response


def set_tool_cookie(
    response: Response, name: str, value: str, max_age: int, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


def delete_tool_cookie(response: Response, name: str, path: str = "/") -> None:
    """Delete with the attributes that set it: a browser keeps a partitioned cookie otherwise."""
    response.delete_cookie(
        name, path=path, secure=True, httponly=True, samesite="None", partitioned=True
    )
