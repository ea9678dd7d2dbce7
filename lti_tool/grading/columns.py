"""Competency columns in the LMS gradebook: one per competency, found again by its
`resourceId` rather than duplicated, created on first need, renamed with the competency, and
re-created if someone deleted it in the LMS."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from lti_tool.clients import ags
from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.models.course import Context
from lti_tool.models.mastery import Competency
from lti_tool.store import StoreOpener

TAG = "competency"


def label_of(competency: Competency) -> str:
    """The column's name in the gradebook, which follows the competency's title."""
    return f"Competency: {competency.title}"


def resource_id_of(competency: Competency) -> str:
    """What finds the column again in the LMS, whatever its label became."""
    return f"competency:{competency.id}"


def ensure_column(
    session: Session,
    caller: ServiceCaller,
    context: Context,
    competency: Competency,
    score_maximum: float,
) -> str:
    """The competency's line item URL, making or fixing the column as needed (no commit)."""
    if not context.lineitems_url:
        raise LookupError("the LMS offers no gradebook service (AGS line items) for this course")
    label = label_of(competency)
    url = competency.passback_lineitem_url
    if url and competency.passback_label != label:
        item = ags.get_lineitem(caller, url)
        if item is None:
            url = None
        else:
            ags.update_lineitem(
                caller, url, {**item, "label": label, "scoreMaximum": score_maximum}
            )
    if not url:
        rid = resource_id_of(competency)
        found = next(
            iter(ags.lineitems(caller, context.lineitems_url, resource_id=rid, tag=TAG)), None
        )
        if found is not None:
            url = str(found["id"])
            if found.get("label") != label:
                ags.update_lineitem(caller, url, {**found, "label": label})
        else:
            created = ags.create_lineitem(
                caller,
                context.lineitems_url,
                {"label": label, "scoreMaximum": score_maximum, "resourceId": rid, "tag": TAG},
            )
            url = str(created["id"])
    competency.passback_lineitem_url = url
    competency.passback_label = label
    session.flush()
    return url


def forget_column(session: Session, competency: Competency) -> None:
    """The column is gone from the LMS (404): the next post makes it again."""
    competency.passback_lineitem_url = None
    competency.passback_label = None
    session.flush()


def column_for(
    short_store: StoreOpener,
    session: Session,
    caller: ServiceCaller,
    context: Context,
    competency: Competency,
    maximum: float,
    wait: float = 30.0,
) -> str:
    """The competency's column, made by exactly one worker: the others wait for it."""
    lock = f"passback_column:{competency.id}"
    deadline = time.monotonic() + wait
    while True:
        if competency.passback_lineitem_url and competency.passback_label == label_of(competency):
            return competency.passback_lineitem_url
        with short_store() as store:
            mine = store.add(lock, 1, 60)
        if mine:
            try:
                url = ensure_column(session, caller, context, competency, maximum)
                session.commit()
                return url
            finally:
                with short_store() as store:
                    store.delete(lock)
        if time.monotonic() > deadline:
            raise LookupError(f"the column of competency {competency.code} is still being made")
        time.sleep(0.1)
        session.commit()  # end the read, so the next one sees the other worker's column
        session.refresh(competency)
