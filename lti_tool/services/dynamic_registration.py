"""LTI Dynamic Registration as a use-case: read the platform's configuration, post the tool's
registration, store what the platform answered. Every way it can fail becomes a
`RegistrationRefused` with a title and what the admin should do; nothing is stored unless the
platform's answer was complete (the caller rolls back on a refusal)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool.clients.registration_http import (
    RegistrationCallError,
    RegistrationHttp,
    without_query,
)
from lti_tool.lti.dynamic_registration import (
    TOOL_CONFIG,
    ConfigurationRefused,
    PlatformConfiguration,
    configuration_origin,
    read_answer,
    read_configuration,
    registration_request,
)
from lti_tool.lti.registration_invites import use_invite
from lti_tool.lti.registrations import NewRegistration, RegistrationError, save_registration
from lti_tool.settings import Settings

log = logging.getLogger("lti_tool.registration")

START_AGAIN = "Start the registration again from your LMS (its tokens are used once and expire)."


class RegistrationRefused(Exception):
    """What the admin reads when a registration cannot go on; `detail` goes to the log."""

    def __init__(self, title: str, explanation: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.title = title
        self.explanation = explanation
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Registered:
    uuid: str
    created: bool
    issuer: str
    client_id: str
    deployment_id: str | None
    platform_family: str
    scope: str
    messages: tuple[str, ...]


def check_request(
    openid_configuration: str, registration_token: str, https_only: bool = False
) -> str:
    """The platform's origin, when the page was opened as a platform opens it."""
    if not openid_configuration:
        raise RegistrationRefused(
            "Open this page from your LMS",
            "Paste this page's address into your LMS where it registers a tool by URL "
            "(Moodle: Manage tools › Tool URL › Add LTI Advantage; Canvas: Developer Keys › "
            "LTI Registration). The LMS opens it with its configuration and a token.",
            "registration page opened without openid_configuration",
        )
    platform_origin = configuration_origin(openid_configuration)
    if (
        platform_origin is None
        or len(openid_configuration) > 2000
        or (https_only and not platform_origin.startswith("https://"))
    ):
        raise RegistrationRefused(
            "The LMS sent an address the tool cannot use",
            "The openid_configuration the LMS sent is not an "
            + ("https" if https_only else "http(s)")
            + " address. "
            + START_AGAIN,
            f"registration: openid_configuration {without_query(openid_configuration)[:200]!r} "
            "is not a usable URL",
        )
    if len(registration_token) > 8000:
        raise RegistrationRefused(
            "The LMS sent a token the tool cannot use",
            "The registration token is far longer than any LMS sends. " + START_AGAIN,
            "registration: registration_token over 8000 characters",
        )
    return platform_origin


def fetch_configuration(
    http: RegistrationHttp,
    openid_configuration: str,
    registration_token: str,
    https_only: bool = False,
) -> PlatformConfiguration:
    """The LMS's configuration, read and checked (https only in production)."""
    check_request(openid_configuration, registration_token, https_only)
    try:
        doc = http.get_json(openid_configuration, registration_token)
    except RegistrationCallError as exc:
        raise _call_refused("read your LMS's configuration", exc) from None
    try:
        return read_configuration(openid_configuration, doc, https_only)
    except ConfigurationRefused as exc:
        raise RegistrationRefused(
            "The LMS's configuration cannot be used",
            f"The tool read the configuration at {without_query(openid_configuration)} and "
            f"{exc}. "
            "Check that the address is your LMS's own, then start again from your LMS.",
            f"registration: configuration at {without_query(openid_configuration)}: {exc}",
        ) from None


def register(
    session: Session,
    settings: Settings,
    http: RegistrationHttp,
    openid_configuration: str,
    registration_token: str,
    invite: str | None,
) -> Registered:
    """The whole exchange; the registration is stored in `session` (the caller commits)."""
    config = fetch_configuration(
        http, openid_configuration, registration_token, settings.is_production
    )
    body = registration_request(settings, config)
    try:
        answer_doc = http.post_json(config.registration_endpoint, registration_token, body)
    except RegistrationCallError as exc:
        raise _call_refused("register with your LMS", exc) from None
    try:
        answer = read_answer(answer_doc)
    except ConfigurationRefused as exc:
        raise RegistrationRefused(
            "The LMS's answer cannot be used",
            f"Your LMS accepted the registration, but {exc}, so the tool stored nothing. "
            "Remove the tool your LMS may have added, then start again from your LMS.",
            f"registration: answer from {config.registration_endpoint}: {exc}",
            502,
        ) from None
    name = f"{config.product_family.title()} at {configuration_origin(openid_configuration)}"
    try:
        reg, created = save_registration(
            session,
            NewRegistration(
                issuer=config.issuer,
                client_id=answer.client_id,
                auth_login_url=config.authorization_endpoint,
                auth_token_url=config.token_endpoint,
                key_set_url=config.jwks_uri,
                name=name,
            ),
            answer.deployment_id,
            config.product_family,
        )
    except RegistrationError as exc:
        raise RegistrationRefused(
            "The LMS's answer cannot be used",
            f"The registration could not be stored: {exc}. " + START_AGAIN,
            f"registration: storing {config.issuer} {answer.client_id}: {exc}",
            502,
        ) from None
    if invite is not None and not use_invite(session, invite, reg.id):
        raise RegistrationRefused(
            "This registration link was just used",
            "Another registration used this link a moment ago. Ask for a new link "
            "(lti-tool registration invite) and start again from your LMS.",
            "registration: invite used concurrently",
            409,
        )
    log.info(
        "dynamic registration %s %s: issuer %s client %s deployment %s",
        "added" if created else "updated",
        reg.uuid,
        config.issuer,
        answer.client_id,
        answer.deployment_id,
    )
    tool_config = body[TOOL_CONFIG]
    return Registered(
        uuid=reg.uuid,
        created=created,
        issuer=config.issuer,
        client_id=answer.client_id,
        deployment_id=answer.deployment_id,
        platform_family=config.product_family,
        scope=body["scope"],
        messages=tuple(m["type"] for m in tool_config["messages"]),
    )


def _call_refused(step: str, exc: RegistrationCallError) -> RegistrationRefused:
    if exc.kind == "unreachable":
        return RegistrationRefused(
            "The LMS did not answer",
            f"The tool tried to {step} at {exc.url} and got no answer. Check that the tool's "
            "server can reach the LMS (firewall, proxy, the LMS is up), then start again "
            "from your LMS.",
            f"registration: {exc}",
            502,
        )
    if exc.kind == "refused":
        said = f" It said: {exc.body}" if exc.body else ""
        if exc.status in (401, 403):
            return RegistrationRefused(
                "The LMS refused the registration token",
                f"The tool tried to {step} at {exc.url}; the LMS answered {exc.status}.{said} "
                + START_AGAIN,
                f"registration: {exc}",
                502,
            )
        return RegistrationRefused(
            "The LMS refused the registration",
            f"The tool tried to {step} at {exc.url}; the LMS answered {exc.status}.{said} "
            "If it names a setting of the tool (its domain or addresses), the tool's base_url "
            "may not be the address the LMS sees. Fix that, then start again from your LMS.",
            f"registration: {exc}",
            502,
        )
    return RegistrationRefused(
        "The LMS answered something the tool cannot read",
        f"The tool tried to {step} at {exc.url}; the answer was not JSON"
        + (f": {exc.body}" if exc.body else ".")
        + " Check that the address your LMS sent is its LTI configuration, then start again.",
        f"registration: {exc}",
        502,
    )
