"""Bank statements: upload a CAMT.053 or MT940 file, see what matched, decide the rest.

The file is read and reconciled within the request (engine.import_statement): a statement is
at most a few MB and reading one takes well under a second, so there is no job to poll. Each
import shows its counts; every unmatched line shows why, with a form to book it to a case by
hand or to dismiss it. Managers and admins only (the same people who import cases).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from designer.auth import EDIT_ROLES, role_required
from designer.i18n import _, localized
from engine import (
    LineDecisionError,
    StatementError,
    assign_line,
    decimal_amount,
    dismiss_line,
    import_statement,
    line_reason,
    recent_imports,
    unmatched_lines,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("statements", __name__, url_prefix="/statements")
MAX_BYTES = 8 * 1024 * 1024
EXTENSIONS = (".xml", ".sta", ".mt940", ".940", ".txt")
MAX_NOTE = 500


def _page(
    status: int = 200,
    error: str | None = None,
    line_errors: dict[int, str] | None = None,
) -> tuple[str, int]:
    with transaction() as session:
        imports = recent_imports(session)
        waiting = [
            {
                "id": row.id,
                "place": row.place,
                "booking_date": row.booking_date,
                "amount": decimal_amount(row.amount_minor, row.currency),
                "currency": row.currency,
                "payer": row.debtor_name or "",
                "iban": row.debtor_iban or "",
                "reference": row.reference or "",
                "remittance": row.remittance,
                "reason": localized(line_reason(row)),
                "import_id": row.import_id,
            }
            for row in unmatched_lines(session)
        ]
    shown = {line["id"] for line in waiting}
    # A decision on a line that is no longer waiting (decided in another tab) shows on top.
    stray = [words for line_id, words in (line_errors or {}).items() if line_id not in shown]
    error = error or (stray[0] if stray else None)
    return (
        render_template(
            "statements/index.html",
            imports=imports,
            waiting=waiting,
            error=error,
            line_errors=line_errors or {},
            done=request.args.get("done", type=int),
            form=request.form if request.method == "POST" else {},
        ),
        status,
    )


@bp.get("")
@role_required(EDIT_ROLES)
def index() -> Any:
    """The upload form, the latest imports and the lines waiting for a person."""
    return _page()


@bp.post("")
@role_required(EDIT_ROLES)
def upload() -> Any:
    """Read a statement file and book what matches; say which line of a bad file is wrong."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return _page(400, _("Choose a CAMT.053 (.xml) or MT940 file."))
    if not file.filename.lower().endswith(EXTENSIONS):
        return _page(400, _("Only CAMT.053 (.xml) and MT940 (.sta, .940, .txt) files are read."))
    limit = int(current_app.config.get("STATEMENT_MAX_BYTES", MAX_BYTES))
    raw = file.stream.read(limit + 1)
    if len(raw) > limit:
        return _page(400, _("The file is larger than %(mb)s MB.", mb=max(1, limit // 2**20)))
    try:
        with transaction() as session:
            summary = import_statement(
                session, raw, file.filename, current_user.email, utcnow(), max_bytes=limit
            )
    except StatementError as exc:
        return _page(422, _("The file could not be read: %(problem)s", problem=str(exc)))
    return redirect(url_for("statements.index", done=summary.import_id), code=303)


def _line_id(line_id: int) -> int:
    if line_id <= 0:
        abort(404)
    return line_id


@bp.post("/lines/<int:line_id>/assign")
@role_required(EDIT_ROLES)
def assign(line_id: int) -> Any:
    """Book an unmatched line to the case a person names (audited)."""
    case = (request.form.get("case") or "").strip()
    if not case or len(case) > 100:
        return _page(422, line_errors={line_id: _("Enter the case's id.")})
    try:
        with transaction() as session:
            assign_line(session, _line_id(line_id), case, current_user.email, utcnow())
    except LineDecisionError as exc:
        return _page(422, line_errors={line_id: localized(exc.words)})
    return redirect(url_for("statements.index", assigned=line_id) + f"#line-{line_id}", code=303)


@bp.post("/lines/<int:line_id>/dismiss")
@role_required(EDIT_ROLES)
def dismiss(line_id: int) -> Any:
    """Say a line is no case's payment (audited); nothing is booked."""
    note = (request.form.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        return _page(
            422, line_errors={line_id: _("Please write at most %(n)s characters.", n=MAX_NOTE)}
        )
    try:
        with transaction() as session:
            dismiss_line(session, _line_id(line_id), current_user.email, utcnow(), note)
    except LineDecisionError as exc:
        return _page(422, line_errors={line_id: localized(exc.words)})
    return redirect(url_for("statements.index", dismissed=line_id), code=303)
