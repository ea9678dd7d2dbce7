"""The tool's own LMS gradebook columns: one per competency ("Competency: <title>", its score)
and one per module that gates LMS content ("Unlocked: <title>", 1 open, 0 locked). Each is
found again by its `resourceId` rather than duplicated, created on first need, renamed with
its owner, and re-created if someone deleted it in the LMS."""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lti_tool.clients import ags
from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.models.course import Context
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.store import StoreOpener

TAG = "competency"
UNLOCK_TAG = "unlock"

Owner = Competency | Module


def label_of(owner: Owner) -> str:
    """The column's name in the gradebook, which follows its owner's title."""
    if isinstance(owner, Module):
        return f"Unlocked: {owner.title}"
    return f"Competency: {owner.title}"


def resource_id_of(owner: Owner) -> str:
    """What finds the column again in the LMS, whatever its label became: a copied course's
    owner keeps the resourceId of the column the LMS copied, so that column is adopted."""
    if owner.column_resource_id:
        return owner.column_resource_id
    if isinstance(owner, Module):
        return f"unlock:{owner.id}"
    return f"competency:{owner.id}"


def tag_of(owner: Owner) -> str:
    return UNLOCK_TAG if isinstance(owner, Module) else TAG


def known_column(owner: Owner) -> tuple[str | None, str | None]:
    """The line item URL and the label it had when the tool last wrote it."""
    if isinstance(owner, Module):
        return owner.unlock_lineitem_url, owner.unlock_label
    return owner.passback_lineitem_url, owner.passback_label


def _remember(session: Session, owner: Owner, url: str | None, label: str | None) -> None:
    if isinstance(owner, Module):
        owner.unlock_lineitem_url, owner.unlock_label = url, label
        return
    # A competency's stored label also stands for its column's top, which follows its scale.
    # If the scale was switched since this worker read the competency (a teacher's switch
    # racing the column's creation), the label stays unknown: the next post fixes the top.
    seen_scale = (
        Competency.scale_id.is_(None)
        if owner.scale_id is None
        else Competency.scale_id == owner.scale_id
    )
    session.execute(
        update(Competency).where(Competency.id == owner.id).values(passback_lineitem_url=url)
    )
    kept = session.execute(
        update(Competency).where(Competency.id == owner.id, seen_scale).values(passback_label=label)
    ).rowcount
    set_committed_value(owner, "passback_lineitem_url", url)
    set_committed_value(owner, "passback_label", label if kept else None)


def ensure_column(
    session: Session,
    caller: ServiceCaller,
    context: Context,
    owner: Owner,
    score_maximum: float,
) -> str:
    """The owner's line item URL, making or fixing the column as needed (no commit)."""
    if not context.lineitems_url:
        raise LookupError("the LMS offers no gradebook service (AGS line items) for this course")
    label = label_of(owner)
    url, known_label = known_column(owner)
    if url and known_label != label:
        item = ags.get_lineitem(caller, url)
        if item is None:
            url = None
        else:
            ags.update_lineitem(
                caller, url, {**item, "label": label, "scoreMaximum": score_maximum}
            )
    if not url:
        rid, tag = resource_id_of(owner), tag_of(owner)
        found = next(
            iter(ags.lineitems(caller, context.lineitems_url, resource_id=rid, tag=tag)), None
        )
        if found is not None:
            url = str(found["id"])
            if found.get("label") != label:
                ags.update_lineitem(caller, url, {**found, "label": label})
        else:
            created = ags.create_lineitem(
                caller,
                context.lineitems_url,
                {"label": label, "scoreMaximum": score_maximum, "resourceId": rid, "tag": tag},
            )
            url = str(created["id"])
    _remember(session, owner, url, label)
    session.flush()
    return url


def forget_column(session: Session, owner: Owner) -> None:
    """The column is gone from the LMS (404): the next post makes it again."""
    _remember(session, owner, None, None)
    session.flush()


def column_for(
    short_store: StoreOpener,
    session: Session,
    caller: ServiceCaller,
    context: Context,
    owner: Owner,
    maximum: float,
    wait: float = 30.0,
    lock_seconds: int = 60,
) -> str:
    """The owner's column, made by exactly one worker: the others wait for it. A worker
    killed while it makes the column holds it up for `lock_seconds` at most (a drain passes
    its lease, when shorter: a crash then delays no score by more than a lease)."""
    # Per course: a copied course's owner shares its column's resourceId with the old one.
    lock = f"passback_column:{context.id}:{resource_id_of(owner)}"
    deadline = time.monotonic() + wait
    while True:
        url, known_label = known_column(owner)
        if url and known_label == label_of(owner):
            return url
        with short_store() as store:
            mine = store.add(lock, 1, lock_seconds)
        if mine:
            try:
                url = ensure_column(session, caller, context, owner, maximum)
                session.commit()
                return url
            finally:
                with short_store() as store:
                    store.delete(lock)
        if time.monotonic() > deadline:
            raise LookupError(f"the column {label_of(owner)!r} is still being made")
        time.sleep(0.1)
        session.commit()  # end the read, so the next one sees the other worker's column
        session.refresh(owner)
