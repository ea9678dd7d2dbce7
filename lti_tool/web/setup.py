"""Course setup for teachers: competencies, scale and method, modules, alignments, rules."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("setup", __name__)
