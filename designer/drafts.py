"""Saving edits: a draft changes in place until it is submitted; anything else makes a new draft.

The canvas and the template editor both store through `store_edit`. A draft may be saved with
validation problems (they are shown, and keep it from being submitted); only a document that is
no journey at all is refused (`engine.InvalidJourney`), and a retired journey takes no new
drafts (`engine.LifecycleError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_login import current_user
from sqlalchemy.orm import Session

from designer.i18n import _
from engine import (
    Problem,
    VersionFrozen,
    VersionRow,
    queries,
    save_draft,
    update_draft,
    utcnow,
)


@dataclass(frozen=True)
class Edit:
    """What a save did: the draft it landed in, that draft's problems, and where it came from."""

    number: int
    problems: list[Problem]
    created: bool  # a new draft (True) or the edited draft changed in place (False)
    frozen: int | None = None  # the version that could not change (submitted meanwhile)


def store_edit(session: Session, key: str, number: int | None, doc: dict[str, Any]) -> Edit:
    """Store `doc` as draft `number` when that version is (still) a draft, else as a new draft.

    A version submitted while someone was editing it never changes: the edits become a new
    draft, and `frozen` names the version that was submitted, so the page can say so.
    """
    version: VersionRow | None = (
        queries.get_version(session, key, number) if number is not None else None
    )
    frozen = None
    if version is not None and version.status == "draft":
        try:
            with session.begin_nested():
                problems = update_draft(session, version, doc, utcnow())
            return Edit(version.number, problems, created=False)
        except VersionFrozen:
            frozen = version.number  # submitted between reading and writing: a new draft
    elif version is not None:
        frozen = version.number
    row, problems = save_draft(session, doc, utcnow(), current_user.email)
    return Edit(row.number, problems, created=True, frozen=frozen)


def saved_message(edit: Edit) -> str:
    """What a save did, in words: where the edits went, and how many problems are left."""
    if edit.frozen is not None:
        said = _(
            "Version %(old)s was submitted meanwhile; your changes are in a new draft, v%(n)s.",
            old=edit.frozen,
            n=edit.number,
        )
    elif edit.created:
        said = _("Saved as draft version %(n)s.", n=edit.number)
    else:
        said = _("Draft version %(n)s saved.", n=edit.number)
    if edit.problems:
        said += " " + _(
            "Problems to fix before it can be submitted: %(count)s.", count=len(edit.problems)
        )
    return said
