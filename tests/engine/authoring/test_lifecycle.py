"""The lifecycle of a version: every transition, every refusal, the content-hash binding, races."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from engine import Database, VirtualClock
from engine.authoring.lifecycle import (
    SYSTEM,
    Actor,
    HasProblems,
    JourneyClosed,
    LifecycleConflict,
    LifecycleForbidden,
    LifecycleInvalid,
    LifecycleNotFound,
    actor_for_user,
    approve_version,
    cancel_scheduled_publish,
    comment_version,
    journey_state,
    new_draft_from,
    open_for_cases,
    pause_journey,
    publish_as_system,
    publish_due,
    publish_version,
    request_changes,
    retire_journey,
    save_draft,
    set_approvals_required,
    submit_version,
    unpause_journey,
    version_history,
    waiting_for_review,
)
from engine.authoring.versions import InvalidJourney, VersionFrozen, content_hash, update_draft
from engine.storage.models import AuditRow, JourneyRow, VersionRow
from tests.factories import journey_doc

KEY = "test-journey"
MANAGER = Actor.user("manager@example.org", "manager")
OTHER_MANAGER = Actor.user("boss@example.org", "admin")
REVIEWER = Actor.user("reviewer@example.org", "reviewer")
REVIEWER_2 = Actor.user("second@example.org", "reviewer")
VIEWER = Actor.user("viewer@example.org", "viewer")


def draft(db: Database, clock: VirtualClock, doc: dict[str, Any] | None = None) -> int:
    """Save a draft by MANAGER; returns its number."""
    with db.transaction() as session:
        row, _ = save_draft(session, doc or journey_doc(), clock.now, MANAGER.name)
        return row.number


def submitted(db: Database, clock: VirtualClock) -> int:
    number = draft(db, clock)
    with db.transaction() as session:
        submit_version(session, KEY, number, MANAGER, clock.now, "ready")
    return number


def approved(db: Database, clock: VirtualClock) -> int:
    number = submitted(db, clock)
    with db.transaction() as session:
        approve_version(session, KEY, number, REVIEWER, clock.now, "fine")
    return number


def live(db: Database, clock: VirtualClock) -> int:
    number = approved(db, clock)
    with db.transaction() as session:
        publish_version(session, KEY, number, MANAGER, clock.now)
    return number


def status(db: Database, number: int) -> str:
    with db.transaction() as session:
        return session.scalar(
            select(VersionRow.status)
            .join(JourneyRow)
            .where(JourneyRow.key == KEY, VersionRow.number == number)
        )


def state(db: Database) -> str:
    with db.transaction() as session:
        journey = session.scalar(select(JourneyRow).where(JourneyRow.key == KEY))
        return journey_state(session, journey)


def actions(db: Database, number: int | None = None) -> list[str]:
    with db.transaction() as session:
        return [e.action for e in version_history(session, KEY, number)]


# -- drafts ----------------------------------------------------------------------------------------


def test_a_draft_with_problems_is_saved_and_says_so(db: Database, clock: VirtualClock) -> None:
    doc = journey_doc(templates={})  # the send node's template is missing
    with db.transaction() as session:
        row, problems = save_draft(session, doc, clock.now, MANAGER.name)
        assert (row.status, bool(problems)) == ("draft", True)


def test_a_document_that_is_no_journey_is_still_refused(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session, pytest.raises(InvalidJourney):
        save_draft(session, {"key": "x", "nodes": "no"}, clock.now, MANAGER.name)


def test_a_draft_changes_in_place_until_it_is_submitted(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock)
    changed = journey_doc(name="Renamed")
    with db.transaction() as session:
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        update_draft(session, row, changed, clock.now)
        assert (row.number, row.document["name"]) == (number, "Renamed")
        assert row.content_hash == content_hash(row.document)
    with db.transaction() as session:
        submit_version(session, KEY, number, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(VersionFrozen):
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        update_draft(session, row, journey_doc(), clock.now)


# -- submit ----------------------------------------------------------------------------------------


def test_submit_moves_a_draft_into_review_with_its_note(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    assert status(db, number) == "in_review"
    with db.transaction() as session:
        entry = version_history(session, KEY, number)[-1]
    assert (entry.action, entry.actor, entry.note) == ("submitted", MANAGER.name, "ready")


def test_a_draft_with_problems_cannot_be_submitted(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock, journey_doc(templates={}))
    with db.transaction() as session, pytest.raises(HasProblems) as caught:
        submit_version(session, KEY, number, MANAGER, clock.now)
    assert caught.value.problems and status(db, number) == "draft"
    assert "Problem" in caught.value.text("de")


def test_submitting_twice_names_the_state(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleConflict) as caught:
        submit_version(session, KEY, number, MANAGER, clock.now)
    assert caught.value.state == "in_review"
    assert "'in review', not 'draft'" in str(caught.value)


@pytest.mark.parametrize("actor", [REVIEWER, VIEWER])
def test_only_authors_submit(db: Database, clock: VirtualClock, actor: Actor) -> None:
    number = draft(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        submit_version(session, KEY, number, actor, clock.now)


def test_an_unknown_version_is_named(db: Database, clock: VirtualClock) -> None:
    draft(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleNotFound, match="no version 9"):
        submit_version(session, KEY, 9, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleNotFound, match="no journey"):
        submit_version(session, "nope", 1, MANAGER, clock.now)


# -- review ----------------------------------------------------------------------------------------


def test_one_approval_approves_by_default(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    with db.transaction() as session:
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        assert (row.status, row.approvals, row.approved_hash) == (
            "approved",
            1,
            content_hash(row.document),
        )


def test_the_author_cannot_approve_even_as_a_reviewer(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock)
    author_as_reviewer = Actor.user(MANAGER.name, "reviewer")
    with db.transaction() as session:
        submit_version(session, KEY, number, OTHER_MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="four eyes"):
        approve_version(session, KEY, number, author_as_reviewer, clock.now)
    assert status(db, number) == "in_review"


def test_the_submitter_cannot_approve(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock)
    with db.transaction() as session:
        submit_version(session, KEY, number, OTHER_MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="four eyes"):
        approve_version(session, KEY, number, Actor.user(OTHER_MANAGER.name, "reviewer"), clock.now)


@pytest.mark.parametrize("actor", [MANAGER, OTHER_MANAGER, VIEWER, Actor.token("ci")])
def test_only_reviewers_approve(db: Database, clock: VirtualClock, actor: Actor) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        approve_version(session, KEY, number, actor, clock.now)


def test_a_draft_cannot_be_approved(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleConflict) as caught:
        approve_version(session, KEY, number, REVIEWER, clock.now)
    assert caught.value.state == "draft"


def test_two_approvals_when_the_journey_needs_two(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session:
        set_approvals_required(session, KEY, 2, MANAGER, clock.now)
        approve_version(session, KEY, number, REVIEWER, clock.now)
    assert status(db, number) == "in_review"
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="already approved"):
        approve_version(session, KEY, number, REVIEWER, clock.now)
    with db.transaction() as session:
        approve_version(session, KEY, number, REVIEWER_2, clock.now)
    assert status(db, number) == "approved"


def test_the_number_of_approvals_is_bounded(db: Database, clock: VirtualClock) -> None:
    draft(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleInvalid):
        set_approvals_required(session, KEY, 0, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        set_approvals_required(session, KEY, 2, REVIEWER, clock.now)


def test_an_approval_of_other_content_than_reviewed_is_refused(
    db: Database, clock: VirtualClock
) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="not the content"):
        approve_version(session, KEY, number, REVIEWER, clock.now, reviewed_hash="0" * 64)
    assert status(db, number) == "in_review"


def test_request_changes_keeps_the_version_and_a_new_draft_follows(
    db: Database, clock: VirtualClock
) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleInvalid):
        request_changes(session, KEY, number, REVIEWER, clock.now, "  ")
    with db.transaction() as session:
        request_changes(session, KEY, number, REVIEWER, clock.now, "Friendlier first mail")
    assert status(db, number) == "changes_requested"
    with db.transaction() as session, pytest.raises(LifecycleConflict):
        approve_version(session, KEY, number, REVIEWER, clock.now)
    with db.transaction() as session:
        row, problems = new_draft_from(session, KEY, number, clock.now, MANAGER.name)
        assert (row.number, row.status, problems) == (number + 1, "draft", [])
    assert actions(db, number) == ["submitted", "changes_requested"]


def test_the_author_cannot_request_changes_on_their_own(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        request_changes(session, KEY, number, MANAGER, clock.now, "hm")


def test_comments_are_anchored_to_a_step_or_a_template(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session:
        on_step = comment_version(session, KEY, number, REVIEWER, clock.now, "3 days?", "wait")
        on_text = comment_version(
            session, KEY, number, MANAGER, clock.now, "ok", "template:reminder"
        )
        assert (on_step.anchor, on_text.anchor) == ("wait", "template:reminder")
    with db.transaction() as session, pytest.raises(LifecycleInvalid, match="neither a step"):
        comment_version(session, KEY, number, REVIEWER, clock.now, "?", "nowhere")
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        comment_version(session, KEY, number, VIEWER, clock.now, "I see")


def test_waiting_for_review_lists_what_a_reviewer_may_still_approve(
    db: Database, clock: VirtualClock
) -> None:
    number = submitted(db, clock)
    with db.transaction() as session:
        set_approvals_required(session, KEY, 2, MANAGER, clock.now)
        assert [v.number for _, v in waiting_for_review(session, REVIEWER.name)] == [number]
        approve_version(session, KEY, number, REVIEWER, clock.now)
        assert waiting_for_review(session, REVIEWER.name) == []
        assert waiting_for_review(session, MANAGER.name) == []
        assert [k for k, _ in waiting_for_review(session, REVIEWER_2.name)] == [KEY]


# -- publish ---------------------------------------------------------------------------------------


def test_publish_makes_the_journey_live(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    assert state(db) == "draft"
    with db.transaction() as session:
        result = publish_version(session, KEY, number, MANAGER, clock.now, note="go")
    assert (result.version, result.superseded, status(db, number)) == (number, (), "published")
    assert state(db) == "live"
    assert actions(db, number) == ["submitted", "approved", "published"]
    with db.transaction() as session:
        audit = session.scalar(select(AuditRow).where(AuditRow.kind == "journey_published"))
        assert (audit.case_id, audit.detail["version"], audit.detail["by"]) == (
            None,
            number,
            MANAGER.name,
        )


def test_publishing_supersedes_the_published_version(db: Database, clock: VirtualClock) -> None:
    first = live(db, clock)
    second = approved(db, clock)
    with db.transaction() as session:
        result = publish_version(session, KEY, second, OTHER_MANAGER, clock.now)
    assert result.superseded == (first,)
    assert (status(db, first), status(db, second)) == ("superseded", "published")
    assert actions(db, first)[-1] == "superseded"


@pytest.mark.parametrize("actor", [REVIEWER, VIEWER])
def test_reviewers_and_viewers_do_not_publish(
    db: Database, clock: VirtualClock, actor: Actor
) -> None:
    number = approved(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        publish_version(session, KEY, number, actor, clock.now)


def test_a_version_in_review_cannot_be_published(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleConflict) as caught:
        publish_version(session, KEY, number, MANAGER, clock.now)
    assert caught.value.state == "in_review"


def test_content_changed_after_approval_is_not_published(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    with db.transaction() as session:
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        document = copy.deepcopy(row.document)
        document["templates"]["reminder"]["variants"][0]["body"] = "Pay now."
        session.execute(update(VersionRow).where(VersionRow.id == row.id).values(document=document))
    changed = "changed after it was approved"
    with db.transaction() as session, pytest.raises(LifecycleConflict, match=changed):
        publish_version(session, KEY, number, MANAGER, clock.now)
    assert status(db, number) == "approved"


def test_raising_the_approvals_needed_holds_back_an_approved_version(
    db: Database, clock: VirtualClock
) -> None:
    number = approved(db, clock)
    with db.transaction() as session:
        set_approvals_required(session, KEY, 2, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="1 of 2 approvals"):
        publish_version(session, KEY, number, MANAGER, clock.now)


def test_an_older_version_is_not_published_over_a_newer_one(
    db: Database, clock: VirtualClock
) -> None:
    older = approved(db, clock)
    newer = approved(db, clock)
    with db.transaction() as session:
        publish_version(session, KEY, newer, MANAGER, clock.now)
    with (
        db.transaction() as session,
        pytest.raises(LifecycleConflict, match="older than its published"),
    ):
        publish_version(session, KEY, older, MANAGER, clock.now)


def test_a_scheduled_publish_fires_when_due(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    at = clock.now + timedelta(hours=2)
    with db.transaction() as session:
        result = publish_version(session, KEY, number, MANAGER, clock.now, at=at)
    assert result.scheduled_for == at and status(db, number) == "approved"
    with db.transaction() as session:
        assert publish_due(session, clock.now + timedelta(hours=1)) == []
    with db.transaction() as session:
        fired = publish_due(session, at)
    assert [r.version for r in fired] == [number] and status(db, number) == "published"
    with db.transaction() as session:
        entry = version_history(session, KEY, number)[-1]
    assert (entry.action, entry.actor, entry.actor_role) == ("published", MANAGER.name, "scheduled")


def test_a_scheduled_publish_waits_while_the_journey_is_paused(
    db: Database, clock: VirtualClock
) -> None:
    first = live(db, clock)
    second = approved(db, clock)
    at = clock.now + timedelta(hours=1)
    with db.transaction() as session:
        publish_version(session, KEY, second, MANAGER, clock.now, at=at)
        pause_journey(session, KEY, MANAGER, clock.now)
    with db.transaction() as session:
        assert publish_due(session, at + timedelta(hours=1)) == []
    assert status(db, second) == "approved"
    with db.transaction() as session:
        unpause_journey(session, KEY, MANAGER, at + timedelta(hours=2))
        publish_due(session, at + timedelta(hours=2))
    assert (status(db, first), status(db, second)) == ("superseded", "published")


def test_a_scheduled_publish_that_cannot_happen_is_dropped_with_its_reason(
    db: Database, clock: VirtualClock
) -> None:
    older = approved(db, clock)
    newer = approved(db, clock)
    at = clock.now + timedelta(hours=1)
    with db.transaction() as session:
        publish_version(session, KEY, older, MANAGER, clock.now, at=at)
        publish_version(session, KEY, newer, MANAGER, clock.now)
    with db.transaction() as session:
        assert publish_due(session, at) == []
    with db.transaction() as session:
        entry = version_history(session, KEY, older)[-1]
        row = session.scalar(select(VersionRow).where(VersionRow.number == older))
        assert (entry.action, row.publish_at, row.status) == ("publish_failed", None, "approved")
    assert "older" in (entry.note or "")


def test_a_scheduled_publish_can_be_cancelled(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    with db.transaction() as session:
        publish_version(session, KEY, number, MANAGER, clock.now, at=clock.now + timedelta(1))
        cancel_scheduled_publish(session, KEY, number, MANAGER, clock.now)
    with db.transaction() as session:
        assert publish_due(session, clock.now + timedelta(days=2)) == []
    assert status(db, number) == "approved"


def test_publishing_now_on_a_paused_journey_is_refused(db: Database, clock: VirtualClock) -> None:
    live(db, clock)
    number = approved(db, clock)
    with db.transaction() as session:
        pause_journey(session, KEY, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="paused") as caught:
        publish_version(session, KEY, number, MANAGER, clock.now)
    assert caught.value.state == "paused"


# -- pause, unpause, retire ------------------------------------------------------------------------


def test_pause_and_unpause(db: Database, clock: VirtualClock) -> None:
    number = live(db, clock)
    with db.transaction() as session:
        pause_journey(session, KEY, Actor.token("ops"), clock.now, "template typo")
    assert state(db) == "paused"
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="only a live journey"):
        pause_journey(session, KEY, MANAGER, clock.now)
    with db.transaction() as session:
        unpause_journey(session, KEY, MANAGER, clock.now)
    assert state(db) == "live"
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="nothing to unpause"):
        unpause_journey(session, KEY, MANAGER, clock.now)
    assert actions(db, number)[-2:] == ["paused", "unpaused"]
    with db.transaction() as session:
        kinds = session.scalars(select(AuditRow.kind).where(AuditRow.case_id.is_(None))).all()
    assert kinds == ["journey_published", "journey_paused", "journey_unpaused"]


def test_a_journey_never_published_cannot_be_paused_or_retired(
    db: Database, clock: VirtualClock
) -> None:
    draft(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleConflict) as caught:
        pause_journey(session, KEY, MANAGER, clock.now)
    assert caught.value.state == "draft"
    with db.transaction() as session, pytest.raises(LifecycleConflict):
        retire_journey(session, KEY, MANAGER, clock.now)


def test_reviewers_do_not_pause(db: Database, clock: VirtualClock) -> None:
    live(db, clock)
    with db.transaction() as session, pytest.raises(LifecycleForbidden):
        pause_journey(session, KEY, REVIEWER, clock.now)


def test_retire_ends_the_journey_for_new_cases_and_versions(
    db: Database, clock: VirtualClock
) -> None:
    number = live(db, clock)
    pending = approved(db, clock)
    with db.transaction() as session:
        retire_journey(session, KEY, MANAGER, clock.now, "replaced by the B2B journey")
    assert (state(db), status(db, number)) == ("retired", "retired")
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="retired"):
        publish_version(session, KEY, pending, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="retired"):
        save_draft(session, journey_doc(), clock.now, MANAGER.name)
    with db.transaction() as session, pytest.raises(LifecycleConflict, match="'retired'"):
        retire_journey(session, KEY, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(JourneyClosed) as caught:
        open_for_cases(session, KEY)
    assert caught.value.state == "retired"


def test_cases_open_only_on_a_live_journey(db: Database, clock: VirtualClock) -> None:
    number = draft(db, clock)
    with db.transaction() as session:
        assert open_for_cases(session, "nope") is None
        with pytest.raises(JourneyClosed, match="not published yet"):
            open_for_cases(session, KEY)
    live(db, clock)
    with db.transaction() as session:
        assert open_for_cases(session, KEY).number == number + 1
        pause_journey(session, KEY, MANAGER, clock.now)
    with db.transaction() as session, pytest.raises(JourneyClosed) as caught:
        open_for_cases(session, KEY)
    assert "pausiert" in caught.value.text("de")


# -- the system actor and the history --------------------------------------------------------------


def test_the_system_publishes_in_one_go(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        row = publish_as_system(session, journey_doc(), clock.now)
        assert row.status == "published"
    assert actions(db, 1) == ["submitted", "approved", "published"]


def test_the_history_of_the_whole_journey(db: Database, clock: VirtualClock) -> None:
    live(db, clock)
    with db.transaction() as session:
        set_approvals_required(session, KEY, 2, MANAGER, clock.now)
        entries = version_history(session, KEY)
    last = [(e.version, e.action) for e in entries][-2:]
    assert last == [(1, "published"), (None, "approvals_set")]


def test_actor_for_user_knows_the_role(db: Database, clock: VirtualClock) -> None:
    from engine.access.users import add_user

    with db.transaction() as session:
        add_user(session, "r@example.org", "a-long-password-1", "reviewer", clock.now)
        assert actor_for_user(session, "R@example.org") == Actor("r@example.org", "reviewer")
        with pytest.raises(LifecycleNotFound):
            actor_for_user(session, "nobody@example.org")
    assert SYSTEM.role == "system"


# -- races -----------------------------------------------------------------------------------------


def _race(db: Database, *steps: Any) -> list[BaseException | None]:
    """Run each step in its own thread and transaction, released at once."""
    barrier = threading.Barrier(len(steps))
    outcomes: list[BaseException | None] = [None] * len(steps)

    def run(index: int, step: Any) -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                step(session)
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(steps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_approvals_at_once_approve_once(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    outcomes = _race(
        db,
        lambda s: approve_version(s, KEY, number, REVIEWER, clock.now),
        lambda s: approve_version(s, KEY, number, REVIEWER_2, clock.now),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["LifecycleConflict", "NoneType"]
    with db.transaction() as session:
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        assert (row.status, row.approvals) == ("approved", 1)
    assert actions(db, number) == ["submitted", "approved"]


def test_the_same_reviewer_twice_at_once_counts_once(db: Database, clock: VirtualClock) -> None:
    number = submitted(db, clock)
    with db.transaction() as session:
        set_approvals_required(session, KEY, 2, MANAGER, clock.now)
    outcomes = _race(
        db,
        lambda s: approve_version(s, KEY, number, REVIEWER, clock.now),
        lambda s: approve_version(s, KEY, number, REVIEWER, clock.now),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["LifecycleConflict", "NoneType"]
    with db.transaction() as session:
        row = session.scalar(select(VersionRow).where(VersionRow.number == number))
        assert (row.status, row.approvals) == ("in_review", 1)


def test_a_publish_racing_a_submit_cannot_publish_unreviewed_work(
    db: Database, clock: VirtualClock
) -> None:
    number = draft(db, clock)
    outcomes = _race(
        db,
        lambda s: submit_version(s, KEY, number, MANAGER, clock.now),
        lambda s: publish_version(s, KEY, number, OTHER_MANAGER, clock.now),
    )
    assert outcomes[0] is None and isinstance(outcomes[1], LifecycleConflict)
    assert status(db, number) == "in_review"


def test_two_publishes_at_once_publish_once(db: Database, clock: VirtualClock) -> None:
    number = approved(db, clock)
    outcomes = _race(
        db,
        lambda s: publish_version(s, KEY, number, MANAGER, clock.now),
        lambda s: publish_version(s, KEY, number, OTHER_MANAGER, clock.now),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["LifecycleConflict", "NoneType"]
    assert actions(db, number).count("published") == 1


def test_a_stale_form_is_refused(db: Database, clock: VirtualClock) -> None:
    """A session that read the draft before someone else submitted it cannot submit it again."""
    number = draft(db, clock)
    with db.sessions() as second:
        with second.begin():
            stale = second.scalar(select(VersionRow).where(VersionRow.number == number))
        with db.transaction() as first:
            submit_version(first, KEY, number, MANAGER, clock.now)
        assert stale.status == "draft"  # what the stale form shows
        with second.begin(), pytest.raises(LifecycleConflict) as caught:
            submit_version(second, KEY, number, OTHER_MANAGER, clock.now)
    assert caught.value.state == "in_review"
