"""What students and mentors see: the path with its explanations, the profile, goals."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("learner", __name__)
