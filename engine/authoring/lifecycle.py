"""Taking a journey live: submit, four-eyes review, publish (now or later), pause, retire.

A version (VersionRow.status) moves

    draft --submit--> in_review --approve x N--> approved --publish--> published
                      in_review --request_changes--> changes_requested
    published --(a newer version is published)--> superseded
    published --(the journey is retired)--> retired

Submitted versions never change: `changes_requested` is final for that version and stays in
its history; the author edits a new draft (`new_draft_from` copies it) and submits that. A
draft may be saved with problems (`versions.save_version(..., allow_problems=True)`,
`versions.update_draft`) but only a draft without problems can be submitted.

Approvals are bound to the content: each records the version's `content_hash` (sha256 of the
canonical document, templates included); a version becomes `approved` when it has the
journey's `approvals_required` (default 1) from reviewers other than its author and its
submitter, and publishing checks the hash of the stored document against the approved one.

A journey (`journey_state`) is `draft` until its first publish, then `live`; it can be
`paused` (no new cases; running cases wait at their node, see engine/run/runtime.py, while
payments and the policy rules still apply) and `retired` (no new cases, no new versions;
running cases finish on their version).

Who: submit and publish, pause, unpause, retire: managers, admins, API tokens (the API asks
for the `publish` scope where it matters) and the system (`mahnwerk init`); approve and
request changes: reviewers, never the version's author or submitter; comments: every role
but viewers. The system actor may do every step (it publishes the shipped examples).

Every transition is a conditional UPDATE (`... WHERE status = <expected>`) whose row count
is checked, so two requests racing for the same step cannot both succeed: the loser gets a
`LifecycleConflict` naming the state it found. Each step writes a `VersionEventRow` (who,
when, why); publish, pause, unpause and retire also write an audit row without a case
(`journey_published` ...), from which the webhooks `journey.published` ... are made, and each
moved case gets an audit row of its own (`moved`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.authoring.validation import blocking, validate_document
from engine.authoring.versions import content_hash, save_version
from engine.core.case_status import OPEN_STATUSES, due_now
from engine.core.clock import as_utc, naive_utc
from engine.core.messages import DEFAULT_LANG, Message, Text, Verbatim, msg
from engine.nodes.base import Problem
from engine.storage.audit_chain import chain_dicts
from engine.storage.models import (
    AuditRow,
    CaseRow,
    JourneyRow,
    UserRow,
    VersionEventRow,
    VersionRow,
)

MAX_APPROVALS = 5
JOURNEY_STATES = ("draft", "live", "paused", "retired")

# -- who --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: a designer user (by email and role), an API token, or the system."""

    name: str
    role: str  # manager | admin | reviewer | viewer | token | system

    @classmethod
    def user(cls, email: str, role: str) -> Actor:
        """A designer user."""
        return cls(email.strip().lower(), role)

    @classmethod
    def token(cls, name: str) -> Actor:
        """An API token (the API checks its scopes before calling the engine)."""
        return cls(f"token:{name}", "token")


SYSTEM = Actor("mahnwerk", "system")

_AUTHORS = frozenset({"manager", "admin", "token", "system"})
_REVIEWERS = frozenset({"reviewer", "system"})
_PUBLISHERS = frozenset({"manager", "admin", "token", "system"})
_COMMENTERS = frozenset({"manager", "admin", "reviewer", "system"})


def actor_for_user(session: Session, email: str) -> Actor:
    """The designer user with this email as an Actor (LifecycleNotFound when there is none)."""
    row = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if row is None:
        raise LifecycleNotFound(msg("There is no user '{email}'.", email=email))
    return Actor.user(row.email, row.role)


# -- what goes wrong -----------------------------------------------------------------------------


class LifecycleError(ValueError):
    """A step that cannot be taken; `words` says why in English or German (`text(lang)`)."""

    kind = "lifecycle"

    def __init__(self, words: Message, state: str | None = None) -> None:
        super().__init__(words.text(DEFAULT_LANG))
        self.words = words
        self.state = state  # the version's or journey's state that refused the step

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """Why, in `lang`."""
        return self.words.text(lang)


class LifecycleNotFound(LifecycleError):
    """No such journey, version or user (the API answers 404)."""

    kind = "unknown"


class LifecycleForbidden(LifecycleError):
    """The actor's role may not take this step (the API answers 403)."""

    kind = "forbidden"


class LifecycleConflict(LifecycleError):
    """The version or journey is not in a state for this step, or another request won a race,
    or four eyes are missing, or the content changed after approval (the API answers 409)."""

    kind = "conflict"


class LifecycleInvalid(LifecycleError):
    """A request that misses what it needs: a note, a known anchor (the API answers 422)."""

    kind = "invalid"


class HasProblems(LifecycleInvalid):
    """A version with validation problems cannot be submitted (the API answers 422)."""

    def __init__(self, words: Message, problems: list[Problem], state: str = "draft") -> None:
        super().__init__(words, state)
        self.problems = problems


# The states in words (the data keeps the English names).
STATE_WORDS: dict[str, Message] = {
    "draft": msg("draft"),
    "in_review": msg("in review"),
    "approved": msg("approved"),
    "changes_requested": msg("changes requested"),
    "published": msg("published"),
    "superseded": msg("superseded"),
    "retired": msg("retired"),
    "simulation": msg("simulation"),
    "live": msg("live"),
    "paused": msg("paused"),
    "never_published": msg("not published yet"),
}
_MAY_NOT: dict[str, Message] = {  # "'x' (viewer) may not ..."
    "submit": msg("submit a version"),
    "approve": msg("approve a version"),
    "request_changes": msg("request changes"),
    "publish": msg("publish a version"),
    "journey": msg("pause, unpause or retire a journey"),
    "comment": msg("comment on a version"),
    "settings": msg("change the approvals a journey needs"),
}
_CANNOT_BE: dict[str, Message] = {  # "... it cannot be ..."
    "submit": msg("submitted"),
    "approve": msg("approved"),
    "request_changes": msg("sent back for changes"),
    "publish": msg("published"),
}


def state_words(state: str) -> Text:
    """A version's or journey's state in words."""
    return STATE_WORDS.get(state) or Verbatim(state)


def _allow(actor: Actor, roles: frozenset[str], step: str) -> None:
    if actor.role not in roles:
        raise LifecycleForbidden(
            msg(
                "'{who}' ({role}) may not {action}.",
                who=actor.name,
                role=actor.role,
                action=_MAY_NOT[step],
            )
        )


def _wrong_state(row: VersionRow, key: str, expected: str, step: str) -> LifecycleConflict:
    return LifecycleConflict(
        msg(
            "Version {number} of journey '{journey}' is '{state}', not '{expected}': "
            "it cannot be {action}.",
            number=row.number,
            journey=key,
            state=state_words(row.status),
            expected=state_words(expected),
            action=_CANNOT_BE[step],
        ),
        row.status,
    )


# -- reading -----------------------------------------------------------------------------------


def _journey(session: Session, key: str, lock: bool = False) -> JourneyRow:
    query = select(JourneyRow).where(JourneyRow.key == key)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise LifecycleNotFound(msg("There is no journey '{journey}'.", journey=key))
    return row


def _version(session: Session, journey: JourneyRow, number: int) -> VersionRow:
    row = session.scalar(
        select(VersionRow)
        .where(VersionRow.journey_id == journey.id, VersionRow.number == number)
        .execution_options(populate_existing=True)
    )
    if row is None or row.status == "simulation":
        raise LifecycleNotFound(
            msg(
                "There is no version {number} of journey '{journey}'.",
                number=number,
                journey=journey.key,
            )
        )
    return row


def _published(session: Session, journey_id: int) -> VersionRow | None:
    return session.scalar(
        select(VersionRow)
        .where(VersionRow.journey_id == journey_id, VersionRow.status == "published")
        .order_by(VersionRow.number.desc())
        .limit(1)
    )


def journey_state(session: Session, journey: JourneyRow) -> str:
    """draft (never published), live, paused or retired."""
    if journey.retired_at is not None:
        return "retired"
    if _published(session, journey.id) is None:
        return "draft"
    return "paused" if journey.paused_at is not None else "live"


def version_hash(row: VersionRow) -> str:
    """The content hash of a version's stored document, computed now (never trusted stored)."""
    return content_hash(row.document)


def version_problems(row: VersionRow) -> list[Problem]:
    """The validation problems of a version's document."""
    return validate_document(row.document)[1]


# -- history -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One step in a version's (or journey's) history."""

    id: int
    version: int | None  # the version number, None for a step of the whole journey
    action: str
    actor: str
    actor_role: str
    at: datetime
    note: str | None
    anchor: str | None  # a node id or "template:<key>" a comment is about
    content_hash: str | None
    detail: dict[str, Any]


def _record(
    session: Session,
    journey: JourneyRow,
    version: VersionRow | None,
    action: str,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    *,
    anchor: str | None = None,
    digest: str | None = None,
    once: str | None = None,
    **detail: Any,
) -> VersionEventRow:
    row = VersionEventRow(
        journey_id=journey.id,
        version_id=version.id if version else None,
        action=action,
        actor=actor.name,
        actor_role=actor.role,
        at=naive_utc(now),
        note=(note or "").strip() or None,
        anchor=anchor,
        content_hash=digest,
        detail=detail,
        once=once,
    )
    session.add(row)
    session.flush()
    return row


def _journey_audit(
    session: Session,
    journey: JourneyRow,
    version: VersionRow | None,
    kind: str,
    actor: Actor,
    now: datetime,
    note: str | None,
    **detail: Any,
) -> None:
    """An audit row without a case: the webhook emitter makes journey.* events of them."""
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=None,
            version_id=version.id if version else None,
            node_id=None,
            kind=kind,
            rule=None,
            detail={
                "journey": journey.key,
                "version": version.number if version else None,
                "by": actor.name,
                "note": note,
                **detail,
            },
        )
    )


def version_history(session: Session, key: str, number: int | None = None) -> list[HistoryEntry]:
    """The history of one version (oldest first), or with `number` None the whole journey's."""
    journey = _journey(session, key)
    query = (
        select(VersionEventRow, VersionRow.number)
        .outerjoin(VersionRow, VersionRow.id == VersionEventRow.version_id)
        .where(VersionEventRow.journey_id == journey.id)
        .order_by(VersionEventRow.id)
    )
    if number is not None:
        query = query.where(VersionEventRow.version_id == _version(session, journey, number).id)
    return [_entry(row, version_number) for row, version_number in session.execute(query)]


def _entry(row: VersionEventRow, number: int | None) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        version=number,
        action=row.action,
        actor=row.actor,
        actor_role=row.actor_role,
        at=as_utc(row.at),
        note=row.note,
        anchor=row.anchor,
        content_hash=row.content_hash,
        detail=dict(row.detail or {}),
    )


def waiting_for_review(session: Session, reviewer: str) -> list[tuple[str, VersionRow]]:
    """(journey key, version) in review that this reviewer may approve and has not yet."""
    who = reviewer.strip().lower()
    approved = select(VersionEventRow.version_id).where(
        VersionEventRow.action == "approved", VersionEventRow.actor == who
    )
    rows = session.execute(
        select(JourneyRow.key, VersionRow)
        .join(VersionRow, VersionRow.journey_id == JourneyRow.id)
        .where(
            VersionRow.status == "in_review",
            func.coalesce(VersionRow.author, "") != who,
            func.coalesce(VersionRow.submitted_by, "") != who,
            VersionRow.id.not_in(approved),
        )
        .order_by(VersionRow.submitted_at, VersionRow.id)
    ).all()
    return [(key, version) for key, version in rows]


# -- drafts ------------------------------------------------------------------------------------


def save_draft(
    session: Session, doc: dict[str, Any], now: datetime, author: str | None
) -> tuple[VersionRow, list[Problem]]:
    """Store a document as the next draft of its journey, problems and all; returns both.

    Refused (InvalidJourney) only when the document does not parse as a journey at all, or
    when its journey is retired.
    """
    key = doc.get("key") if isinstance(doc, dict) else None
    existing = session.scalar(select(JourneyRow).where(JourneyRow.key == key)) if key else None
    if existing is not None and existing.retired_at is not None:
        raise LifecycleConflict(_retired(existing.key), "retired")
    row = save_version(session, doc, now, author=author, allow_problems=True)
    return row, version_problems(row)


def new_draft_from(
    session: Session, key: str, number: int, now: datetime, author: str | None
) -> tuple[VersionRow, list[Problem]]:
    """A new draft with the document of version `number` (e.g. one sent back for changes)."""
    journey = _journey(session, key)
    source = _version(session, journey, number)
    return save_draft(session, dict(source.document), now, author)


# -- submit and review -------------------------------------------------------------------------


def _transition(
    session: Session, row: VersionRow, key: str, expected: str, step: str, **values: Any
) -> None:
    """UPDATE the version WHERE its status is still `expected`; LifecycleConflict when not."""
    changed = session.execute(
        update(VersionRow)
        .where(VersionRow.id == row.id, VersionRow.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.refresh(row)
        raise _wrong_state(row, key, expected, step)
    session.refresh(row)


def submit_version(
    session: Session, key: str, number: int, actor: Actor, now: datetime, note: str | None = None
) -> VersionRow:
    """draft -> in_review; only a version without problems, on a journey not retired."""
    _allow(actor, _AUTHORS, "submit")
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if journey.retired_at is not None:
        raise LifecycleConflict(_retired(key), "retired")
    if row.status != "draft":
        raise _wrong_state(row, key, "draft", "submit")
    problems = blocking(version_problems(row))  # warnings do not refuse a submission
    if problems:
        raise HasProblems(
            msg(
                "Version {number} of journey '{journey}' has {count:#problem|problems}; fix "
                "them before submitting.",
                number=number,
                journey=key,
                count=len(problems),
            ),
            problems,
        )
    digest = version_hash(row)
    _transition(
        session,
        row,
        key,
        "draft",
        "submit",
        status="in_review",
        submitted_at=naive_utc(now),
        submitted_by=actor.name,
        content_hash=digest,
        approvals=0,
        approved_hash=None,
    )
    _record(session, journey, row, "submitted", actor, now, note, digest=digest)
    return row


def _four_eyes(row: VersionRow, actor: Actor, key: str) -> None:
    if actor.role == "system":
        return
    if actor.name in {(row.author or "").lower(), (row.submitted_by or "").lower()}:
        raise LifecycleConflict(
            msg(
                "'{who}' wrote or submitted version {number} of journey '{journey}'; another "
                "reviewer must review it (four eyes).",
                who=actor.name,
                number=row.number,
                journey=key,
            ),
            row.status,
        )


def approve_version(
    session: Session,
    key: str,
    number: int,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    reviewed_hash: str | None = None,
    via: str | None = None,
) -> VersionRow:
    """Record a reviewer's approval of exactly this content; enough of them: in_review -> approved.

    `reviewed_hash` is the content hash the reviewer saw (the designer's form carries it):
    when given and the version's differs, the approval is refused. `via` names who relayed
    the reviewer's decision (an API token), kept in the history.
    """
    _allow(actor, _REVIEWERS, "approve")
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if row.status != "in_review":
        raise _wrong_state(row, key, "in_review", "approve")
    _four_eyes(row, actor, key)
    open_findings = unwaived(session, row) if actor.role != "system" else []
    if open_findings:
        raise HasProblems(
            msg(
                "Version {number} of journey '{journey}' has {count} HIGH compliance findings "
                "without a written waiver; waive each (or request changes) before approving.",
                number=number,
                journey=key,
                count=len(open_findings),
            ),
            open_findings,
            row.status,
        )
    digest = version_hash(row)
    if digest != row.content_hash or (reviewed_hash is not None and reviewed_hash != digest):
        raise LifecycleConflict(
            msg(
                "Version {number} of journey '{journey}' is not the content that was "
                "reviewed; reload it and review it again.",
                number=number,
                journey=key,
            ),
            row.status,
        )
    once = None if actor.role == "system" else f"approved:{row.id}:{actor.name}"
    try:
        with session.begin_nested():
            extra = {"via": via} if via else {}
            _record(
                session,
                journey,
                row,
                "approved",
                actor,
                now,
                note,
                digest=digest,
                once=once,
                **extra,
            )
    except IntegrityError:
        raise LifecycleConflict(
            msg(
                "'{who}' has already approved version {number} of journey '{journey}'.",
                who=actor.name,
                number=number,
                journey=key,
            ),
            row.status,
        ) from None
    # Count the approval only while the version is still in review with this content.
    counted = session.execute(
        update(VersionRow)
        .where(
            VersionRow.id == row.id,
            VersionRow.status == "in_review",
            VersionRow.content_hash == digest,
        )
        .values(approvals=VersionRow.approvals + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(row)
    if counted != 1:
        raise _wrong_state(row, key, "in_review", "approve")
    if row.approvals >= journey.approvals_required or actor.role == "system":
        _transition(
            session, row, key, "in_review", "approve", status="approved", approved_hash=digest
        )
    return row


def request_changes(
    session: Session,
    key: str,
    number: int,
    actor: Actor,
    now: datetime,
    note: str,
    via: str | None = None,
) -> VersionRow:
    """in_review -> changes_requested, with a note saying what should change.

    The version stays as it is, in the history; the author edits a new draft (new_draft_from).
    """
    _allow(actor, _REVIEWERS, "request_changes")
    if not (note or "").strip():
        raise LifecycleInvalid(msg("Say what should change: a note is needed."))
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if row.status != "in_review":
        raise _wrong_state(row, key, "in_review", "request_changes")
    _four_eyes(row, actor, key)
    _transition(session, row, key, "in_review", "request_changes", status="changes_requested")
    extra = {"via": via} if via else {}
    _record(
        session,
        journey,
        row,
        "changes_requested",
        actor,
        now,
        note,
        digest=row.content_hash,
        **extra,
    )
    return row


def comment_version(
    session: Session,
    key: str,
    number: int,
    actor: Actor,
    now: datetime,
    note: str,
    anchor: str | None = None,
) -> HistoryEntry:
    """A comment on a version, optionally anchored to a step (node id) or `template:<key>`."""
    _allow(actor, _COMMENTERS, "comment")
    if not (note or "").strip():
        raise LifecycleInvalid(msg("A comment needs some text."))
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if anchor:
        nodes = {n.get("id") for n in row.document.get("nodes", [])}
        templates = {f"template:{k}" for k in row.document.get("templates", {})}
        if anchor not in nodes | templates:
            raise LifecycleInvalid(
                msg(
                    "'{anchor}' is neither a step nor a template of version {number}.",
                    anchor=anchor,
                    number=number,
                )
            )
    event = _record(
        session,
        journey,
        row,
        "commented",
        actor,
        now,
        note,
        anchor=anchor or None,
        digest=row.content_hash,
    )
    return _entry(event, row.number)


# -- waivers of HIGH compliance findings ---------------------------------------------------------

MAX_WAIVER = 2000


def high_findings(row: VersionRow) -> list[Problem]:
    """The version's HIGH compliance findings: each needs a reviewer's written waiver."""
    return [p for p in version_problems(row) if p.grade == "HIGH" and p.finding_key]


def _waiver_anchor(finding_key: str) -> str:
    # The key names rule, step and field (up to ~250 characters); the anchor column holds 200.
    return "finding:" + hashlib.sha256(finding_key.encode()).hexdigest()[:24]


def version_waivers(session: Session, row: VersionRow) -> dict[str, HistoryEntry]:
    """The waivers given on a version, by the finding key they waive."""
    events = session.scalars(
        select(VersionEventRow)
        .where(VersionEventRow.version_id == row.id, VersionEventRow.action == "waived")
        .order_by(VersionEventRow.id)
    )
    return {str(e.detail.get("finding")): _entry(e, row.number) for e in events}


def unwaived(session: Session, row: VersionRow) -> list[Problem]:
    """HIGH findings of the version that no reviewer has waived yet."""
    waived = version_waivers(session, row)
    return [p for p in high_findings(row) if p.finding_key not in waived]


def waive_finding(
    session: Session,
    key: str,
    number: int,
    actor: Actor,
    now: datetime,
    finding: str,
    note: str,
) -> HistoryEntry:
    """A reviewer's written waiver of one HIGH finding of a version in review (audited)."""
    _allow(actor, _REVIEWERS, "approve")
    text = (note or "").strip()
    if not text:
        raise LifecycleInvalid(msg("A waiver needs the reason why the finding is acceptable."))
    if len(text) > MAX_WAIVER:
        raise LifecycleInvalid(msg("A waiver may have at most {max} characters.", max=MAX_WAIVER))
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if row.status != "in_review":
        raise _wrong_state(row, key, "in_review", "approve")
    _four_eyes(row, actor, key)
    found = next((p for p in high_findings(row) if p.finding_key == finding), None)
    if found is None:
        raise LifecycleInvalid(
            msg(
                "Version {number} has no HIGH finding '{finding}' to waive.",
                number=number,
                finding=Verbatim(finding),
            )
        )
    anchor = _waiver_anchor(finding)
    try:
        with session.begin_nested():
            event = _record(
                session,
                journey,
                row,
                "waived",
                actor,
                now,
                text,
                anchor=anchor,
                digest=row.content_hash,
                once=f"waived:{row.id}:{anchor}",
                finding=finding,
                rule=found.code,
                node=found.node,
                field=found.field,
                message=found.message,
            )
    except IntegrityError:
        raise LifecycleConflict(
            msg("This finding of version {number} is already waived.", number=number),
            row.status,
        ) from None
    return _entry(event, row.number)


def set_approvals_required(
    session: Session, key: str, count: int, actor: Actor, now: datetime
) -> JourneyRow:
    """How many reviewer approvals a version of this journey needs (1 to MAX_APPROVALS).

    Versions already approved keep their status, but publishing checks the count again.
    """
    _allow(actor, frozenset({"manager", "admin", "system"}), "settings")
    if not 1 <= count <= MAX_APPROVALS:
        raise LifecycleInvalid(
            msg("A journey needs between 1 and {max} approvals.", max=MAX_APPROVALS)
        )
    journey = _journey(session, key)
    before = journey.approvals_required
    journey.approvals_required = count
    _record(session, journey, None, "approvals_set", actor, now, None, before=before, after=count)
    return journey


# -- publish -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeCases:
    """Running cases of an older version at one step, and whether they can move."""

    version: int
    node: str
    type: str
    cases: int
    movable: bool

    def words(self) -> Message:
        """The line of the publish dialog."""
        if self.movable:
            return msg(
                "{cases:#case|cases} at step '{node}' of version {version} can move to the new "
                "version.",
                cases=self.cases,
                node=self.node,
                version=self.version,
            )
        return msg(
            "{cases:#case|cases} at step '{node}' of version {version} stay: the new version "
            "has no step '{node}' of the same type.",
            cases=self.cases,
            node=self.node,
            version=self.version,
        )


@dataclass(frozen=True)
class PublishPreview:
    """What publishing a version would do to the running cases of the journey's older versions."""

    journey: str
    version: int
    nodes: tuple[NodeCases, ...]

    @property
    def movable(self) -> int:
        """Cases that would move with move=True."""
        return sum(n.cases for n in self.nodes if n.movable)

    @property
    def staying(self) -> int:
        """Cases that stay on their version whatever is chosen."""
        return sum(n.cases for n in self.nodes if not n.movable)

    def lines(self, lang: str = DEFAULT_LANG) -> list[str]:
        """One sentence per step, in `lang`."""
        return [n.words().text(lang) for n in self.nodes]


@dataclass(frozen=True)
class PublishResult:
    """What a publish did (or, with `scheduled_for`, will do)."""

    journey: str
    version: int
    scheduled_for: datetime | None = None
    superseded: tuple[int, ...] = ()
    moved: int = 0
    stayed: tuple[NodeCases, ...] = field(default_factory=tuple)

    @property
    def staying(self) -> int:
        """Cases that stayed on their version."""
        return sum(n.cases for n in self.stayed)


def _node_types(document: dict[str, Any]) -> dict[str, str]:
    return {str(n.get("id")): str(n.get("type")) for n in document.get("nodes", [])}


def _running(session: Session, journey_id: int, target: VersionRow) -> list[NodeCases]:
    rows = session.execute(
        select(VersionRow.id, VersionRow.number, CaseRow.node_id, func.count(CaseRow.id))
        .join(CaseRow, CaseRow.version_id == VersionRow.id)
        .where(
            VersionRow.journey_id == journey_id,
            VersionRow.id != target.id,
            CaseRow.status.in_(OPEN_STATUSES),
        )
        .group_by(VersionRow.id, VersionRow.number, CaseRow.node_id)
        .order_by(VersionRow.number, CaseRow.node_id)
    ).all()
    new_types = _node_types(target.document)
    old_types: dict[int, dict[str, str]] = {}
    found = []
    for version_id, number, node_id, count in rows:
        if version_id not in old_types:
            old = session.get(VersionRow, version_id)
            old_types[version_id] = _node_types(old.document if old else {})
        kind = old_types[version_id].get(node_id, "?")
        found.append(NodeCases(number, node_id, kind, count, new_types.get(node_id) == kind))
    return found


def publish_preview(session: Session, key: str, number: int) -> PublishPreview:
    """Per step of the older versions: running cases, and which could move to version `number`."""
    journey = _journey(session, key)
    target = _version(session, journey, number)
    return PublishPreview(key, number, tuple(_running(session, journey.id, target)))


def _retired(key: str) -> Message:
    return msg(
        "Journey '{journey}' is retired: it takes no new versions and no new cases.", journey=key
    )


def _check_publishable(session: Session, journey: JourneyRow, row: VersionRow) -> None:
    key = journey.key
    if journey.retired_at is not None:
        raise LifecycleConflict(_retired(key), "retired")
    if row.status != "approved":
        raise _wrong_state(row, key, "approved", "publish")
    if row.approved_hash is None or version_hash(row) != row.approved_hash:
        raise LifecycleConflict(
            msg(
                "Version {number} of journey '{journey}' changed after it was approved; it "
                "needs a new review.",
                number=row.number,
                journey=key,
            ),
            row.status,
        )
    if row.approvals < journey.approvals_required:
        raise LifecycleConflict(
            msg(
                "Version {number} of journey '{journey}' has {approvals} of {required} approvals.",
                number=row.number,
                journey=key,
                approvals=row.approvals,
                required=journey.approvals_required,
            ),
            row.status,
        )
    current = _published(session, journey.id)
    if current is not None and current.number > row.number:
        raise LifecycleConflict(
            msg(
                "Version {number} of journey '{journey}' is older than its published version "
                "{published}.",
                number=row.number,
                journey=key,
                published=current.number,
            ),
            row.status,
        )


def publish_version(
    session: Session,
    key: str,
    number: int,
    actor: Actor,
    now: datetime,
    *,
    move: bool = False,
    at: datetime | None = None,
    note: str | None = None,
) -> PublishResult:
    """approved -> published, now or (with `at` in the future) when the tick reaches `at`.

    The published version before it becomes superseded. Running cases stay on their version,
    or with `move` those whose step exists in the new version with the same id and type move
    (each audited, `moved`); the rest stay and are listed in the result. Publishing now on a
    paused journey is refused; a scheduled publish that comes due while the journey is paused
    waits for unpause (`publish_due`).
    """
    _allow(actor, _PUBLISHERS, "publish")
    journey = _journey(session, key, lock=True)
    row = _version(session, journey, number)
    _check_publishable(session, journey, row)
    if at is not None and as_utc(at) > as_utc(now):
        _transition(
            session,
            row,
            key,
            "approved",
            "publish",
            publish_at=naive_utc(at),
            publish_move=move,
            publish_by=actor.name,
        )
        _record(
            session,
            journey,
            row,
            "scheduled",
            actor,
            now,
            note,
            digest=row.approved_hash,
            at=as_utc(at).isoformat(),
            move=move,
        )
        return PublishResult(key, number, scheduled_for=as_utc(at))
    if journey.paused_at is not None:
        raise LifecycleConflict(
            msg(
                "Journey '{journey}' is paused: unpause it first, or schedule the publish for "
                "later.",
                journey=key,
            ),
            "paused",
        )
    return _publish(session, journey, row, actor, now, move, note)


def _publish(
    session: Session,
    journey: JourneyRow,
    row: VersionRow,
    actor: Actor,
    now: datetime,
    move: bool,
    note: str | None,
) -> PublishResult:
    key = journey.key
    preview = _running(session, journey.id, row)
    older = list(
        session.scalars(
            select(VersionRow.id).where(
                VersionRow.journey_id == journey.id, VersionRow.status == "published"
            )
        )
    )
    _transition(
        session,
        row,
        key,
        "approved",
        "publish",
        status="published",
        published_at=naive_utc(now),
        published_by=actor.name,
        publish_at=None,
    )
    superseded = []
    for old_id in older:
        session.execute(
            update(VersionRow)
            .where(VersionRow.id == old_id, VersionRow.status == "published")
            .values(status="superseded")
            .execution_options(synchronize_session=False)
        )
        old = session.get(VersionRow, old_id)
        if old is not None:
            session.refresh(old)
            superseded.append(old.number)
            _record(session, journey, old, "superseded", actor, now, None, by_version=row.number)
    moved = _move_cases(session, journey, row, preview, actor, now) if move else 0
    stayed = tuple(n for n in preview if not (move and n.movable))
    _record(
        session,
        journey,
        row,
        "published",
        actor,
        now,
        note,
        digest=row.approved_hash,
        moved=moved,
        stayed=sum(n.cases for n in stayed),
        superseded=superseded,
    )
    _journey_audit(
        session,
        journey,
        row,
        "journey_published",
        actor,
        now,
        note,
        moved=moved,
        superseded=superseded,
    )
    return PublishResult(key, row.number, None, tuple(superseded), moved, stayed)


def _move_cases(
    session: Session,
    journey: JourneyRow,
    target: VersionRow,
    preview: list[NodeCases],
    actor: Actor,
    now: datetime,
) -> int:
    """Move running cases whose step exists in `target` (same id and type); audit each."""
    by_number: dict[int, list[str]] = defaultdict(list)
    for n in preview:
        if n.movable:
            by_number[n.version].append(n.node)
    moved = 0
    stamp = naive_utc(now)
    for number, nodes in sorted(by_number.items()):
        old = _version(session, journey, number)
        rows = session.execute(
            update(CaseRow)
            .where(
                CaseRow.version_id == old.id,
                CaseRow.node_id.in_(nodes),
                CaseRow.status.in_(OPEN_STATUSES),
            )
            .values(version_id=target.id, updated_at=stamp)
            .returning(CaseRow.id, CaseRow.node_id)
            .execution_options(synchronize_session=False)
        ).all()
        if rows:
            detail = {"from_version": number, "to_version": target.number, "by": actor.name}
            session.execute(
                insert(AuditRow),
                chain_dicts(
                    session,
                    [
                        {
                            "at": stamp,
                            "case_id": case_id,
                            "version_id": target.id,
                            "node_id": node_id,
                            "kind": "moved",
                            "rule": None,
                            "detail": detail,
                        }
                        for case_id, node_id in rows
                    ],
                ),
            )
        moved += len(rows)
    if moved:
        _record(session, journey, target, "moved", actor, now, None, cases=moved)
    return moved


def cancel_scheduled_publish(
    session: Session, key: str, number: int, actor: Actor, now: datetime
) -> VersionRow:
    """Forget a publish chosen for later; the version stays approved."""
    _allow(actor, _PUBLISHERS, "publish")
    journey = _journey(session, key)
    row = _version(session, journey, number)
    if row.status != "approved" or row.publish_at is None:
        raise _wrong_state(row, key, "approved", "publish")
    _transition(session, row, key, "approved", "publish", publish_at=None, publish_by=None)
    _record(session, journey, row, "unscheduled", actor, now, None)
    return row


def publish_due(session: Session, now: datetime) -> list[PublishResult]:
    """Publish the versions whose scheduled time has come (the tick calls this first).

    A journey that is paused keeps its scheduled versions waiting until it is unpaused. A
    version that can no longer be published (changed, superseded by a newer one ...) loses its
    schedule, with the reason in its history (`publish_failed`).
    """
    due = session.execute(
        select(JourneyRow.key, VersionRow.number, VersionRow.publish_by)
        .join(VersionRow, VersionRow.journey_id == JourneyRow.id)
        .where(
            VersionRow.status == "approved",
            VersionRow.publish_at.is_not(None),
            VersionRow.publish_at <= naive_utc(now),
            JourneyRow.paused_at.is_(None),
        )
        .order_by(JourneyRow.key, VersionRow.number)
    ).all()
    results = []
    for key, number, by in due:
        actor = Actor(by or SYSTEM.name, "scheduled")
        journey = _journey(session, key, lock=True)
        row = _version(session, journey, number)
        try:
            with session.begin_nested():
                if row.status != "approved" or row.publish_at is None:
                    continue  # someone else got there first
                _check_publishable(session, journey, row)
                results.append(_publish(session, journey, row, actor, now, row.publish_move, None))
        except LifecycleError as exc:
            session.execute(
                update(VersionRow)
                .where(VersionRow.id == row.id, VersionRow.status == "approved")
                .values(publish_at=None)
                .execution_options(synchronize_session=False)
            )
            _record(session, journey, row, "publish_failed", actor, now, str(exc))
    return results


# -- pause, unpause, retire --------------------------------------------------------------------


def _journey_step(session: Session, key: str, actor: Actor, expected: str, step: str) -> JourneyRow:
    _allow(actor, _PUBLISHERS, "journey")
    journey = _journey(session, key, lock=True)
    state = journey_state(session, journey)
    if state not in expected.split("|"):
        words = {
            "pause": msg(
                "Journey '{journey}' is '{state}': only a live journey can be paused.",
                journey=key,
                state=state_words(state),
            ),
            "unpause": msg(
                "Journey '{journey}' is '{state}', not paused: there is nothing to unpause.",
                journey=key,
                state=state_words(state),
            ),
            "retire": msg(
                "Journey '{journey}' is '{state}': only a live or paused journey can be retired.",
                journey=key,
                state=state_words(state),
            ),
        }[step]
        raise LifecycleConflict(words, state)
    return journey


def _journey_update(session: Session, journey: JourneyRow, where: Any, **values: Any) -> None:
    """UPDATE the journey WHERE it is still as read (else LifecycleConflict naming its state)."""
    changed = session.execute(
        update(JourneyRow)
        .where(JourneyRow.id == journey.id, where)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(journey)
    if changed != 1:
        state = journey_state(session, journey)
        raise LifecycleConflict(
            msg(
                "Journey '{journey}' changed meanwhile; it is '{state}' now.",
                journey=journey.key,
                state=state_words(state),
            ),
            state,
        )


def pause_journey(
    session: Session, key: str, actor: Actor, now: datetime, note: str | None = None
) -> JourneyRow:
    """live -> paused: no new cases; running cases wait at their node until unpause."""
    journey = _journey_step(session, key, actor, "live", "pause")
    _journey_update(session, journey, JourneyRow.paused_at.is_(None), paused_at=naive_utc(now))
    version = _published(session, journey.id)
    _record(session, journey, version, "paused", actor, now, note)
    _journey_audit(session, journey, version, "journey_paused", actor, now, note)
    return journey


def _wake_parked_cases(session: Session, journey_id: int, now: datetime) -> None:
    """The tick parked the open cases it met while the journey was paused (due_at NULL):
    make them due again."""
    versions = select(VersionRow.id).where(VersionRow.journey_id == journey_id)
    session.execute(
        update(CaseRow)
        .where(
            CaseRow.version_id.in_(versions),
            CaseRow.status.in_(OPEN_STATUSES),
            CaseRow.due_at.is_(None),
        )
        .values(due_at=due_now(now))
        .execution_options(synchronize_session=False)
    )


def unpause_journey(
    session: Session, key: str, actor: Actor, now: datetime, note: str | None = None
) -> JourneyRow:
    """paused -> live: the cases that waited are due at once; scheduled publishes may fire."""
    journey = _journey_step(session, key, actor, "paused", "unpause")
    _journey_update(session, journey, JourneyRow.paused_at.is_not(None), paused_at=None)
    _wake_parked_cases(session, journey.id, now)
    version = _published(session, journey.id)
    _record(session, journey, version, "unpaused", actor, now, note)
    _journey_audit(session, journey, version, "journey_unpaused", actor, now, note)
    return journey


def retire_journey(
    session: Session, key: str, actor: Actor, now: datetime, note: str | None = None
) -> JourneyRow:
    """live or paused -> retired: no new cases or versions; running cases finish on theirs.

    The published version becomes retired, scheduled publishes are cancelled, and a paused
    journey's waiting cases go on (retiring ends the pause).
    """
    journey = _journey_step(session, key, actor, "live|paused", "retire")
    was_paused = journey.paused_at is not None
    _journey_update(
        session,
        journey,
        JourneyRow.retired_at.is_(None),
        retired_at=naive_utc(now),
        paused_at=None,
    )
    version = _published(session, journey.id)
    session.execute(
        update(VersionRow)
        .where(VersionRow.journey_id == journey.id, VersionRow.status == "published")
        .values(status="retired")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(VersionRow)
        .where(VersionRow.journey_id == journey.id, VersionRow.publish_at.is_not(None))
        .values(publish_at=None)
        .execution_options(synchronize_session=False)
    )
    if was_paused:
        _wake_parked_cases(session, journey.id, now)
    if version is not None:
        session.refresh(version)
    _record(session, journey, version, "retired", actor, now, note)
    _journey_audit(session, journey, version, "journey_retired", actor, now, note)
    return journey


# -- opening cases -----------------------------------------------------------------------------


class JourneyClosed(LookupError):
    """Cases cannot be opened on this journey now: it is not published, paused or retired."""

    def __init__(self, key: str, state: str) -> None:
        self.key, self.state = key, state
        self.words = msg(
            "Journey '{journey}' is '{state}': cases can only be opened on a live journey.",
            journey=key,
            state=state_words("never_published" if state == "draft" else state),
        )
        super().__init__(self.words.text(DEFAULT_LANG))

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """Why, in `lang`."""
        return self.words.text(lang)


def open_for_cases(session: Session, key: str) -> VersionRow | None:
    """The version new cases of this journey start on; None when there is no such journey.

    JourneyClosed when the journey exists but is not live (never published, paused, retired).
    """
    journey = session.scalar(select(JourneyRow).where(JourneyRow.key == key))
    if journey is None:
        return None
    state = journey_state(session, journey)
    if state != "live":
        raise JourneyClosed(key, state)
    return _published(session, journey.id)


# -- mahnwerk init ----------------------------------------------------------------------------


def publish_as_system(
    session: Session, doc: dict[str, Any], now: datetime, author: str = "mahnwerk init"
) -> VersionRow:
    """Save, submit, approve and publish a document as the system (the shipped examples)."""
    actor = Actor(author, "system")
    row = save_version(session, doc, now, author=author)
    key = session.get(JourneyRow, row.journey_id).key  # type: ignore[union-attr]
    submit_version(session, key, row.number, actor, now, "shipped with Mahnwerk")
    approve_version(session, key, row.number, actor, now, "shipped with Mahnwerk")
    publish_version(session, key, row.number, actor, now)
    session.refresh(row)
    return row
