"""The request's view of the process: the app's Runtime, the request's session and store, and
one transaction per request (committed before the response leaves, else rolled back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.runtime import Runtime
from lti_tool.store import SharedStore

EXTENSION = "lti_tool"


def app_runtime(app: Flask) -> Runtime:
    """The Runtime `app` was built with."""
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]


def runtime() -> Runtime:
    """The Runtime of the app serving this request."""
    return app_runtime(current_app)  # type: ignore[arg-type]


def request_db() -> Session:
    """The request's session, opened on first use and committed after the request."""
    session: Session | None = g.get("_db")
    if session is None:
        session = runtime().session_factory()
        g._db = session
    return session


def request_store() -> SharedStore:
    """The shared store, written in the request's transaction when it is the database."""
    return runtime().store(request_db())


def after_this_request_commit(action: Callable[[], Any]) -> None:
    """Run `action` once this request's transaction is committed (e.g. queue a job)."""
    g.setdefault("_after_commit", []).append(action)


def init_app(app: Flask, rt: Runtime) -> None:
    """Make `rt` the app's runtime and give every request one transaction."""
    app.extensions[EXTENSION] = rt

    @app.after_request
    def commit(response: Response) -> Response:
        session = g.get("_db")
        if session is not None and session.in_transaction():  # (untouched: nothing to send)
            session.commit()
        for action in g.pop("_after_commit", []):
            action()
        return response

    @app.teardown_request
    def close(_exc: BaseException | None) -> None:
        session = g.pop("_db", None)
        if session is not None:
            session.close()
