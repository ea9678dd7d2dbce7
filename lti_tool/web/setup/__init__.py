"""Course setup for teachers: competencies, scale and method, modules, alignments, rules.

Thin views: parse the form, call the setup service (which checks the whole course and refuses
naming the field), render the refusal where the mistake is, or redirect to where it landed.
"""

from lti_tool.web.setup import (  # noqa: F401  (each module registers its pages on bp)
    alignments,
    competencies,
    lms_gating,
    methods,
    modules,
    overview,
    rule_templates,
    rules,
)
from lti_tool.web.setup.common import bp

__all__ = ["bp"]
