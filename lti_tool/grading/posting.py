"""Posting claimed outbox rows to the LMS a batch at a time: what a batch's posts need read in
a few statements, the posts sent by threads that do only HTTP, and the answers recorded with
their audit entries and stamps in one transaction (docs/decisions.md #10, #49).

The outbox's guarantees hold per row as they did for one post at a time: a row is posted only
while this worker's claim (its lease, at the claimed version) still holds it; its answer is
recorded once, fenced by version; a worker that dies mid-batch leaves leases that expire, and
its rows are claimed again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lti_tool.clients.ags import SCOPE_SCORE, ScoreOutcome
from lti_tool.clients.errors import PlatformError
from lti_tool.clients.lti_services import ServiceCaller, ServiceError, caller_for
from lti_tool.db import make_engine, make_session_factory
from lti_tool.grading.columns import column_for, ensure_column, forget_column, known_column
from lti_tool.grading.outbox import (
    CHANGED,
    CLAIMED,
    Held,
    fresh,
    release_all,
    renew_leases,
    settle,
    try_later_all,
)
from lti_tool.grading.stamps import (
    NOT_A_LEARNER,
    last_stamps,
    record_stamps,
    send_score,
    stamp_now,
)
from lti_tool.lti.roles import STUDENT
from lti_tool.models.bulk import insert_rows
from lti_tool.models.course import Context, Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Competency
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.runtime import Runtime

log = logging.getLogger("lti_tool.grading.posting")

OUTBOX = ScoreOutbox.__table__

_ROWS = select(*(OUTBOX.c[c.key] for c in CLAIMED))


def about(owner: Competency | Module) -> dict[str, object]:
    """What an audit entry names: the competency's code, or the gated module."""
    if isinstance(owner, Module):
        return {"module": owner.id, "title": owner.title, "column": "unlock"}
    return {"competency": owner.code}


@dataclass(eq=False)
class Job:
    """One row's post: everything its thread needs (no session), and what came of it."""

    held: Held
    owner: Competency | Module
    context_id: int
    user_id: int
    sub: str
    url: str
    given: float
    maximum: float
    attempts: int
    last: datetime | None
    caller: ServiceCaller
    # posted | changed | failed | later | gone (the column 404'd) | expired (lease too short)
    result: str = ""
    outcome: ScoreOutcome | None = None
    timestamp: datetime | None = None
    error: str = ""
    retried: bool = False
    # the lease could not be renewed before the post started: another worker's row now
    lost: bool = False


def send(job: Job, lease_seconds: float, now: Callable[[], datetime] = utcnow) -> Job:
    """A thread's whole part: the POST (and Moodle's read-back), no database."""
    if job.lost:
        job.result = "lost"
        return job
    until = job.held.until
    if until is not None and until <= now():
        # the lease ran out before the post started (the drain could not renew it): leave
        # the row to the next claim
        job.result = "expired"
        return job
    job.timestamp = stamp_now(job.last)
    try:
        job.outcome = send_score(
            job.caller, job.url, job.sub, job.given, job.maximum, job.timestamp
        )
    except ServiceError as exc:
        job.result = "gone" if exc.status == 404 and not job.retried else "later"
        job.error = str(exc)
        return job
    except (PlatformError, LookupError) as exc:
        job.result, job.error = "later", str(exc)
        return job
    if job.outcome.posted:
        job.result = "posted"
    elif job.outcome.changed_in_lms:
        job.result = "changed"
    else:
        job.result = "failed"
    return job


@dataclass(eq=False)
class Batch:
    """Claimed rows on their way: the batch's own session (on PostgreSQL it holds the rows'
    stamp locks until the answers are recorded), its jobs, and the rows settled unposted."""

    session: Session
    jobs: list[Job] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    later: list[tuple[Held, int, str]] = field(default_factory=list)

    def to_send(self) -> list[Job]:
        return [job for job in self.jobs if not job.result]


class Poster:
    """A drain's database side, all on the thread that drives it: opens batches (reads their
    rows, users, columns and stamps), fixes columns the LMS deleted, records answers.

    Its connections are its own pool's: a batch's session is held while its posts are in
    flight, and in a process that also serves the platform (the sandbox) the app's pool must
    keep connections for the platform's answers."""

    def __init__(self, rt: Runtime, batches: int = 1) -> None:
        self.rt = rt
        self.engine = make_engine(rt.engine.url.render_as_string(hide_password=False), batches + 2)
        self.sessions = make_session_factory(self.engine)
        # courses, competencies and modules, their columns: read once per drain
        self.main = self.sessions()
        # token refreshes asked from the posting threads, one at a time (AccessTokens' lock)
        self.token_session = self.sessions()
        self.callers: dict[int, tuple[ServiceCaller, ServiceCaller]] = {}
        self.open_batches: set[Batch] = set()
        self.owners: dict[tuple[int | None, int | None], Competency | Module | None] = {}
        self.contexts: dict[int, Context | None] = {}

    def owner(self, competency_id: int | None, module_id: int | None) -> Competency | Module | None:
        key = (competency_id, module_id)
        if key not in self.owners:
            self.owners[key] = (
                self.main.get(Competency, competency_id)
                if competency_id is not None
                else self.main.get(Module, module_id)
            )
        return self.owners[key]

    def context(self, context_id: int) -> Context | None:
        if context_id not in self.contexts:
            self.contexts[context_id] = self.main.get(Context, context_id)
        return self.contexts[context_id]

    def callers_of(self, context: Context) -> tuple[ServiceCaller, ServiceCaller]:
        """The course's caller for this thread, and the one its posting threads share."""
        pair = self.callers.get(context.id)
        if pair is None:
            mine = caller_for(self.main, context, self.rt.platform_http, self.rt.tokens)
            theirs = ServiceCaller(
                http=mine.http,
                tokens=mine.tokens,
                session=self.token_session,
                registration=mine.registration,
            )
            pair = self.callers[context.id] = (mine, theirs)
        return pair

    def open(self, held_rows: list[Held], claimed: dict[int, Any] | None = None) -> Batch:
        """The batch's jobs; rows no longer this claim's, or whose course, column owner or
        person is gone, are settled at once (no post). `claimed`: the rows' values as their
        claim returned them a moment ago (else they are read, fenced by the claims)."""
        rt = self.rt
        # Courses and column owners are read afresh for each batch: a drain can run for
        # minutes, and a scale switch (a column's new top) or a rename made meanwhile must
        # reach the LMS with the scores it changed.
        self.main.commit()
        self.main.expire_all()
        self.owners.clear()
        self.contexts.clear()
        batch = Batch(self.sessions())
        self.open_batches.add(batch)
        session = batch.session
        now = utcnow()
        stale = [h for h in held_rows if h.until is not None and not fresh(rt, h, now)]
        current = [h for h in held_rows if h not in stale]
        if stale:
            # claimed a while ago: the leases renewed before the posts start, or lost
            until = now + timedelta(seconds=rt.settings.passback_lease_seconds)
            kept = renew_leases(session, stale, until)
            session.commit()
            current += [Held(h.row_id, h.version, until) for h in stale if h.row_id in kept]
            batch.settled += ["superseded"] * (len(stale) - len(kept))
        if claimed is not None and not stale:
            rows = {held.row_id: claimed[held.row_id] for held in current}
        else:
            rows = self._read_fenced(session, current)
        lost = [held for held in current if held.row_id not in rows]
        release_all(session, lost)
        batch.settled += ["superseded"] * len(lost)
        if not rows:
            session.commit()
            return batch
        user_ids = {row.user_id for row in rows.values()}
        context_ids = {row.context_id for row in rows.values()}
        people: dict[int, str] = {}
        roles: dict[tuple[int, int], str] = {}
        found = session.execute(
            select(User.id, User.sub, Membership.context_id, Membership.role)
            .outerjoin(
                Membership,
                and_(Membership.user_id == User.id, Membership.context_id.in_(context_ids)),
            )
            .where(User.id.in_(user_ids))
        )
        for user_id, sub, context_id, role in found:
            people[user_id] = sub
            if context_id is not None:
                roles[(context_id, user_id)] = role
        columns: dict[Any, str | Exception] = {}
        gone: list[int] = []
        jobs: list[Job] = []
        for held in current:
            row = rows.get(held.row_id)
            if row is None:
                continue
            owner = self.owner(row.competency_id, row.module_id)
            context = self.context(row.context_id)
            if owner is None or context is None or row.user_id not in people:
                gone.append(held.row_id)
                continue
            try:
                mine, theirs = self.callers_of(context)
                key = (type(owner), owner.id)
                if key not in columns:
                    try:
                        columns[key] = column_for(
                            rt.short_store,
                            self.main,
                            mine,
                            context,
                            owner,
                            row.score_maximum,
                            lock_seconds=min(60, rt.settings.passback_lease_seconds),
                        )
                    except (PlatformError, LookupError) as exc:
                        columns[key] = exc
                url = columns[key]
                if isinstance(url, Exception):
                    raise url
            except (PlatformError, LookupError) as exc:
                batch.later.append((held, row.attempts, str(exc)))
                continue
            job = Job(
                held,
                owner,
                context.id,
                row.user_id,
                people[row.user_id],
                url,
                row.score_given,
                row.score_maximum,
                row.attempts,
                None,
                theirs,
            )
            if roles.get((context.id, row.user_id)) != STUDENT:
                job.result, job.outcome = "failed", ScoreOutcome(False, 0, NOT_A_LEARNER)
            jobs.append(job)
        if gone:
            session.execute(delete(ScoreOutbox).where(ScoreOutbox.id.in_(gone)))
            batch.settled += ["superseded"] * len(gone)
        posting = [job for job in jobs if not job.result]
        stamps = last_stamps(session, [(job.user_id, job.url) for job in posting])
        for job in posting:
            job.last = stamps.get((job.user_id, job.url))
        for context_id in {job.context_id for job in posting}:
            # the token asked here, once per batch: the threads find it in memory
            _, theirs = self.callers[context_id]
            theirs.tokens.token(self.main, theirs.registration, [SCOPE_SCORE])
        batch.jobs = jobs
        if session.get_bind().dialect.name != "postgresql":
            # No transaction stays open across the posts on SQLite (one writer, and the
            # sandbox may share the file); on PostgreSQL it holds the stamp locks.
            session.commit()
        self.main.commit()  # end the reads: the column owners' transaction stays short
        return batch

    def _read_fenced(self, session: Session, held_rows: list[Held]) -> dict[int, Any]:
        """The rows still held by these claims, at their claimed versions, not yet settled."""
        by_until: dict[datetime | None, list[Held]] = {}
        for held in held_rows:
            by_until.setdefault(held.until, []).append(held)
        rows: dict[int, Any] = {}
        for until, group in by_until.items():
            versions = {held.row_id: held.version for held in group}
            query = _ROWS.where(OUTBOX.c.id.in_(list(versions)), OUTBOX.c.state == "pending")
            if until is not None:
                query = query.where(OUTBOX.c.claimed_until == until)
            for row in session.connection().execute(query):
                if versions[row.id] == row.version:
                    rows[row.id] = row
        return rows

    def keep_leases(self, batch: Batch) -> None:
        """Renew the leases of a batch in flight once half of them has passed (one
        statement): posts slowed by a platform's pauses must not outlive their claim."""
        lease = self.rt.settings.passback_lease_seconds
        now = utcnow()
        old = [
            job
            for job in batch.jobs
            if job.held.until is not None
            and not job.lost
            and (job.held.until - now).total_seconds() < lease / 2
        ]
        if not old:
            return
        until = now + timedelta(seconds=lease)
        kept = renew_leases(self.main, [job.held for job in old], until)
        self.main.commit()
        for job in old:
            if job.held.row_id in kept:
                job.held = Held(job.held.row_id, job.held.version, until)
            else:
                job.lost = True

    def refix(self, jobs: list[Job]) -> list[Job]:
        """Posts whose column the LMS no longer has (404): the column made again, once per
        owner; returns the jobs to send again (a second 404 is a failed try)."""
        again: list[Job] = []
        for job in jobs:
            owner, context = job.owner, self.context(job.context_id)
            try:
                url, _ = known_column(owner)
                if url == job.url and context is not None:
                    forget_column(self.main, owner)
                    self.main.commit()
                    mine, _ = self.callers_of(context)
                    ensure_column(self.main, mine, context, owner, job.maximum)
                    self.main.commit()
                url, _ = known_column(owner)
                if url is None:
                    raise LookupError(f"the column of {about(owner)} could not be made again")
            except (PlatformError, LookupError) as exc:
                self.main.rollback()
                job.result, job.error = "later", str(exc)
                continue
            if url != job.url:
                job.last = None  # a new column: no score posted there yet
            job.url, job.retried, job.result = url, True, ""
            again.append(job)
        return again

    def record(self, batch: Batch) -> list[str]:
        """Every answer of the batch, in one transaction: posted rows marked (fenced by
        version), refusals settled, failed tries put off, stamps and audit entries written."""
        session = batch.session
        conn = session.connection()
        now = utcnow()
        results = list(batch.settled)
        audit: list[tuple[Any, ...]] = []
        later = list(batch.later)
        expired: list[Held] = []
        posted = [job for job in batch.jobs if job.result == "posted"]
        if posted:
            marked = set(conn.execute(*_mark_posted(conn.dialect.name, posted, now)).scalars())
            # a newer value arrived meanwhile: it stays pending, our lease freed
            release_all(session, [job.held for job in posted if job.held.row_id not in marked])
            record_stamps(session, [(job.user_id, job.url, job.timestamp) for job in posted])
            for job in posted:
                results.append("posted" if job.held.row_id in marked else "superseded")
        for job in batch.jobs:
            if job.result == "lost":
                results.append("superseded")
                continue
            if job.result == "posted":
                kind, extra = "score_posted", {"of": job.maximum}
            elif job.result == "changed":
                assert job.outcome is not None
                settle(session, *job.held[:2], CHANGED, job.outcome.reason, now)
                kind = "score_changed_in_lms"
                extra = {
                    "of": job.maximum,
                    "lms_score": job.outcome.lms_score,
                    "lms_of": job.outcome.lms_maximum,
                }
                results.append("changed")
            elif job.result == "failed":
                assert job.outcome is not None
                settle(session, *job.held[:2], "failed", job.outcome.reason, now)
                kind, extra = "score_failed", {"reason": job.outcome.reason}
                results.append("failed")
            else:
                if job.result == "expired":
                    expired.append(job.held)
                else:
                    later.append((job.held, job.attempts, job.error))
                results.append("later")
                continue
            detail = {**about(job.owner), "score": job.given, **extra}
            audit.append((job.context_id, kind, job.user_id, json.dumps(detail)))
        release_all(session, expired)
        try_later_all(session, later)
        results += ["later"] * len(batch.later)
        # one COPY on PostgreSQL (a multi-row INSERT of a batch's 200 parameters is parsed
        # anew by psycopg each time), an executemany on SQLite
        insert_rows(
            session,
            AuditEntry.__table__,
            ("context_id", "kind", "user_id", "detail"),
            audit,
            {"at": now, "actor_user_id": None},
            encoded=("detail",),
        )
        session.commit()
        session.close()
        self.open_batches.discard(batch)
        return results

    def close(self) -> None:
        for batch in list(self.open_batches):
            batch.session.close()
        self.main.close()
        self.token_session.close()
        self.engine.dispose()


# PostgreSQL: the posted rows' ids and versions as two arrays, one statement whatever the
# batch's size; elsewhere the ids find the rows by their key and the pairs fence the versions
_POSTED = (
    func.unnest(bindparam("ids", type_=ARRAY(Integer)), bindparam("versions", type_=ARRAY(Integer)))
    .table_valued("id", "version")
    .render_derived(name="posted")
)
_MARKED = {
    "state": "posted",
    "posted_version": OUTBOX.c.version,
    "claimed_until": None,
    "last_error": "",
    "updated_at": bindparam("now"),
}
_MARK_POSTED_ARRAYS = (
    update(OUTBOX)
    .where(OUTBOX.c.id == _POSTED.c.id, OUTBOX.c.version == _POSTED.c.version)
    .values(_MARKED)
    .returning(OUTBOX.c.id)
)


def _mark_posted(dialect: str, posted: list[Job], now: datetime) -> tuple[Any, dict[str, Any]]:
    """The statement marking the posted rows, fenced by version, and its parameters."""
    ids = [job.held.row_id for job in posted]
    versions = [job.held.version for job in posted]
    if dialect == "postgresql":
        return _MARK_POSTED_ARRAYS, {"ids": ids, "versions": versions, "now": now}
    statement = (
        update(OUTBOX)
        .where(
            OUTBOX.c.id.in_(ids),
            tuple_(OUTBOX.c.id, OUTBOX.c.version).in_(list(zip(ids, versions, strict=True))),
        )
        .values(_MARKED)
        .returning(OUTBOX.c.id)
    )
    return statement, {"now": now}


def post_held(rt: Runtime, held_rows: list[Held]) -> list[str]:
    """Post claimed rows on this thread (no pool): what each became."""
    poster = Poster(rt)
    try:
        batch = poster.open(held_rows)
        jobs = batch.to_send()
        while jobs:
            for job in jobs:
                send(job, rt.settings.passback_lease_seconds)
            jobs = poster.refix([job for job in jobs if job.result == "gone"])
        return poster.record(batch)
    finally:
        poster.close()


def post_row(rt: Runtime, row_id: int, version: int, until: datetime | None = None) -> str:
    """posted | superseded | failed | changed | later: one claimed row, as a drain posts it."""
    [result] = post_held(rt, [Held(row_id, version, until)])
    return result
