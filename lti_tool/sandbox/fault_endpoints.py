"""The fault switch over HTTP (`GET`/`POST /sandbox/<slug>/faults`) and `inject_fault`, the
hook the token, NRPS and AGS blueprints run before each call (see faults.py)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from lti_tool.sandbox.faults import (
    FAULTS_QUERY,
    FaultSettings,
    drop_connection,
    read_faults,
    validate,
    write_faults,
)
from lti_tool.sandbox.services import Sandbox, current_sandbox

bp = Blueprint("faults", __name__)


def _current(sb: Sandbox, platform_id: int) -> FaultSettings:
    settings = sb.fault_settings.get(platform_id)
    if settings is None:
        row = sb.conn().execute(FAULTS_QUERY, {"platform": platform_id}).one_or_none()
        settings = (
            FaultSettings()
            if row is None
            else FaultSettings(row[0], tuple(row[1] or ()), row[2], row[3])
        )
        sb.fault_settings.put(platform_id, settings)
    return settings


def inject_fault() -> Response | None:
    """Fail or slow this service call as the platform's switch says (None: answer it)."""
    if not request.view_args:
        return None
    sb = current_sandbox()
    platform = sb.find_platform(str(request.view_args.get("slug", "")))
    if platform is None:
        return None
    platform_id = platform.id
    settings = _current(sb, platform_id)
    if settings.latency_ms:
        time.sleep(settings.latency_ms / 1000)
    kind = sb.fault_plan.next_fault(platform_id, settings)
    if kind is None:
        return None
    if kind == "drop":
        return drop_connection(request.environ)
    if kind == "429":
        return Response(
            "Rate Limit Exceeded",
            status=429,
            headers={"Retry-After": str(settings.retry_after)},
            content_type="text/plain",
        )
    if kind == "403":
        # Canvas' throttling answer (lib/api.rb): a 403 that means "slow down".
        return Response(
            "403 Forbidden (Rate Limit Exceeded)\n",
            status=403,
            headers={"X-Rate-Limit-Remaining": "0.0"},
            content_type="text/plain",
        )
    return Response(f"Sandbox fault injected: {kind}", status=int(kind), content_type="text/plain")


@bp.get("/<slug>/faults")
def faults_get(slug: str) -> Response:
    sb = current_sandbox()
    return jsonify(read_faults(sb.db(), sb.platform(slug).id).as_dict())


@bp.post("/<slug>/faults")
def faults_set(slug: str) -> Any:
    sb = current_sandbox()
    platform_id = sb.platform(slug).id
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        new = validate(body, read_faults(sb.db(), platform_id))
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    write_faults(sb.db(), platform_id, new)
    sb.fault_plan.reset(platform_id)
    return jsonify(new.as_dict())
