"""Building a ServiceCaller for a course: its registration, the runtime's HTTP layer and
token cache."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.models.course import Context
from lti_tool.models.platform import Registration


def caller_for(
    session: Session,
    context: Context,
    http: PlatformHttp,
    tokens: AccessTokens,
) -> ServiceCaller:
    reg = session.get(Registration, context.registration_id)
    if reg is None:
        raise LookupError(f"course {context.id} has no registration any more")
    return ServiceCaller(http=http, tokens=tokens, session=session, registration=reg)
