"""The class view for teachers: who has mastered what, who is stuck, overrides, passback."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("classview", __name__)
