"""Import cases from a CSV or XLSX file: map columns, preview, import with progress, summary.

Steps: upload (the file is stored in the database as CSV text, so every web worker can serve
the next steps), map each column to a case field (prefilled from what was chosen last time for
the same header, else from engine.intake.importer's name and alias detection), preview the first
rows with their errors by line and column, then import into a published journey in a background
thread of the worker that got the request. The import is a job in the database (engine.ops.jobs):
any worker answers the progress fragment that htmx polls and shows the summary. Importing is
idempotent by external id: the same file again imports nothing new.

Mappings are remembered per user and header signature (the sha256 of the normalised column
names) in the `import_mappings` table; one remembered before that (migration 0007) is a shared
default under everyone's own. A user sees only their own uploads, imports and mappings.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from designer.auth import EDIT_ROLES, role_required
from designer.i18n import _, localized
from designer.render import page_or_partial
from engine import (
    CASE_FIELDS,
    CaseImportError,
    Database,
    ImportMappingRow,
    ImportReport,
    Job,
    JobFailed,
    JourneyRow,
    ParsedRow,
    Progress,
    UploadRow,
    VersionRow,
    case_words,
    create_job,
    file_header,
    get_job,
    guess_field,
    import_cases,
    naive_utc,
    read_rows,
    start_job,
    upload_text,
    utcnow,
)
from mahnwerk_web.db import get_db, transaction

bp = Blueprint("imports", __name__, url_prefix="/imports")
KIND = "import"
KEEP = 5  # uploads kept per user (each up to MAX_BYTES); older ones are deleted
KEEP_FOR = timedelta(days=2)  # and none longer than this
PREVIEW_ROWS = 20
SHOWN_ERRORS = 200
MAX_BYTES = 20 * 1024 * 1024
EXTENSIONS = (".csv", ".txt", ".xlsx")


@dataclass
class Upload:
    """A file someone uploaded, as CSV text."""

    id: str
    filename: str
    text: str
    header: list[str]
    user_id: int

    @property
    def signature(self) -> str:
        """What identifies this layout of columns: the same header gets the same mapping."""
        names = "\x1f".join(" ".join(h.lower().split()) for h in self.header)
        return hashlib.sha256(names.encode()).hexdigest()


@dataclass(frozen=True)
class Run:
    """One import as its page shows it, read from its job."""

    id: str
    filename: str
    journey: str
    done: int
    total: int
    finished: bool
    percent: int
    report: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> Run:
        """The import stored as this job."""
        return cls(
            id=job.id,
            filename=job.params["filename"],
            journey=job.params["journey"],
            done=job.done,
            total=job.total,
            finished=job.finished,
            percent=job.percent,
            report=job.result if job.error is None else None,
            error=job.error,
        )


@bp.app_template_filter("row_error")
def row_error(message: str) -> str:
    """A row error's message in the user's language where the catalog knows it (the engine
    keeps it in English: the CLI, the API and the stored job result say it so)."""
    return localized(case_words(message))


# -- uploads ------------------------------------------------------------------------------------


def keep_upload(session: Session, upload: Upload, now: datetime) -> None:
    """Store an upload; forget uploads older than KEEP_FOR and the user's beyond KEEP."""
    session.execute(delete(UploadRow).where(UploadRow.created_at < naive_utc(now - KEEP_FOR)))
    session.add(
        UploadRow(
            id=upload.id,
            user_id=upload.user_id,
            filename=upload.filename,
            text=upload.text,
            header=upload.header,
            created_at=naive_utc(now),
        )
    )
    session.flush()
    older = session.scalars(
        select(UploadRow.id)
        .where(UploadRow.user_id == upload.user_id)
        .order_by(UploadRow.created_at.desc(), UploadRow.id)
        .offset(KEEP)
    ).all()
    if older:
        session.execute(delete(UploadRow).where(UploadRow.id.in_(older)))


def _own_upload(upload_id: str) -> Upload:
    """The signed-in user's upload with this id, or 404 (also for someone else's)."""
    with transaction() as session:
        row = session.get(UploadRow, upload_id)
        if row is None or row.user_id != current_user.id:
            abort(404)
        return Upload(row.id, row.filename, row.text, list(row.header), row.user_id)


# -- remembered mappings ------------------------------------------------------------------------


def remembered(upload: Upload) -> dict[str, Any]:
    """What the uploader chose last time for this header: {"columns": {...}, "journey": key};
    else the shared mapping remembered before mappings were per user, if there is one."""
    with transaction() as session:
        row = session.scalars(
            select(ImportMappingRow)
            .where(
                ImportMappingRow.signature == upload.signature,
                (ImportMappingRow.user_id == upload.user_id) | ImportMappingRow.user_id.is_(None),
            )
            .order_by(ImportMappingRow.user_id.is_(None))  # the user's own first
            .limit(1)
        ).first()
        return {"columns": dict(row.columns), "journey": row.journey} if row is not None else {}


def remember(upload: Upload, columns: dict[str, str], journey: str) -> None:
    """Keep the uploader's mapping for this header, replacing their last one."""
    with transaction() as session:
        # An upsert: two workers remembering the same header at once must not collide.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"columns": columns, "journey": journey, "updated_at": naive_utc(utcnow())}
        session.execute(
            dialect.insert(ImportMappingRow)
            .values(user_id=upload.user_id, signature=upload.signature, **values)
            .on_conflict_do_update(index_elements=["user_id", "signature"], set_=values)
        )


# -- the form -----------------------------------------------------------------------------------


def _journeys() -> list[tuple[str, str, dict[str, Any]]]:
    """Published journeys: (key, name, document), by name."""
    with transaction() as session:
        rows = session.execute(
            select(JourneyRow.key, JourneyRow.name, VersionRow.document)
            .join(VersionRow, VersionRow.journey_id == JourneyRow.id)
            .where(VersionRow.status == "published")
            .order_by(JourneyRow.name)
        ).all()
    return [(key, name, document) for key, name, document in rows]


def _choices(journeys: list[tuple[str, str, dict[str, Any]]], chosen: dict[str, str]) -> list[str]:
    """What a column can feed: case fields, the journeys' attributes, and anything chosen."""
    attributes = sorted(
        {f"attributes.{a['name']}" for _k, _n, doc in journeys for a in doc.get("attributes", [])}
    )
    extra = sorted(v for v in chosen.values() if v and v not in CASE_FIELDS and v not in attributes)
    return [*CASE_FIELDS, *attributes, *extra]


def _prefill(upload: Upload) -> tuple[dict[str, str], str | None]:
    """The mapping to show first: last time's for this header, else the detected fields."""
    earlier = remembered(upload)
    columns = earlier.get("columns") if isinstance(earlier.get("columns"), dict) else {}
    mapping = {
        h: columns[h] if h in columns else (guess_field(h) or "") for h in upload.header if h
    }
    return mapping, earlier.get("journey")


def _submitted(upload: Upload) -> tuple[dict[str, str], str]:
    """The mapping and journey posted by the form (col-<n> per column)."""
    mapping = {h: request.form.get(f"col-{n}", "") for n, h in enumerate(upload.header) if h}
    return mapping, request.form.get("journey", "")


@dataclass
class Preview:
    """The first rows as the import would read them, or why it cannot start."""

    rows: list[ParsedRow] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    total: int = 0
    problem: str | None = None


def preview(upload: Upload, mapping: dict[str, str], document: dict[str, Any] | None) -> Preview:
    """Read the first PREVIEW_ROWS rows with the mapping (engine.intake.importer.read_rows)."""
    attributes = {a["name"]: a["type"] for a in (document or {}).get("attributes", [])}
    try:
        case_file = read_rows(
            io.StringIO(upload.text),
            attributes=attributes,
            column_map=mapping,
            default_currency=(document or {}).get("currency"),
        )
        rows = []
        for row in case_file.rows:
            rows.append(row)
            if len(rows) == PREVIEW_ROWS:
                break
    except CaseImportError as exc:
        return Preview(problem=str(exc))
    return Preview(rows, case_file.columns, case_file.warnings, case_file.total)


def _document(journeys: list[tuple[str, str, dict[str, Any]]], key: str | None) -> Any:
    return next((doc for k, _n, doc in journeys if k == key), None)


def _mapping_page(upload: Upload, mapping: dict[str, str], journey: str | None, status: int = 200):
    journeys = _journeys()
    if journey not in {k for k, _n, _d in journeys}:
        journey = journeys[0][0] if journeys else None
    context = {
        "upload": upload,
        "mapping": mapping,
        "choices": _choices(journeys, mapping),
        "journeys": journeys,
        "journey": journey,
        "preview": preview(upload, mapping, _document(journeys, journey)),
    }
    return render_template("imports/map.html", **context), status


# -- views --------------------------------------------------------------------------------------


@bp.get("")
@role_required(EDIT_ROLES)
def index() -> Any:
    """The upload form."""
    return render_template("imports/index.html", error=None)


@bp.post("")
@role_required(EDIT_ROLES)
def upload() -> Any:
    """Take a CSV or XLSX file and go on to mapping its columns."""
    file = request.files.get("file")
    error = None
    if file is None or not file.filename:
        error = _("Choose a CSV or XLSX file.")
    elif not file.filename.lower().endswith(EXTENSIONS):
        error = _("Only CSV and XLSX files can be imported.")
    if error is None and file is not None:
        limit = current_app.config.get("IMPORT_MAX_BYTES", MAX_BYTES)
        raw = file.stream.read(limit + 1)
        try:
            if len(raw) > limit:
                raise CaseImportError(_("The file is larger than %(mb)s MB.", mb=limit // 2**20))
            text = upload_text(file.filename or "", raw)
            if "\x00" in text:  # PostgreSQL text cannot hold it: refused, not a 500
                line = text.count("\n", 0, text.index("\x00")) + 1
                raise CaseImportError(
                    _("Line %(line)s holds a NUL character, which cannot be stored.", line=line)
                )
            header = file_header(text)
            if not any(header):
                raise CaseImportError(_("The file is empty: its first line must name the columns."))
        except CaseImportError as exc:
            error = str(exc)
        else:
            name = file.filename or ""
            kept = Upload(secrets.token_urlsafe(16), name, text, header, current_user.id)
            with transaction() as session:
                keep_upload(session, kept, utcnow())
            return redirect(url_for("imports.mapping", upload_id=kept.id))
    return render_template("imports/index.html", error=error), 400


@bp.get("/<upload_id>")
@role_required(EDIT_ROLES)
def mapping(upload_id: str) -> Any:
    """Map the file's columns to case fields, choose the journey, see the first rows."""
    kept = _own_upload(upload_id)
    prefilled, journey = _prefill(kept)
    return _mapping_page(kept, prefilled, request.args.get("journey") or journey)


@bp.post("/<upload_id>/preview")
@role_required(EDIT_ROLES)
def refresh(upload_id: str) -> Any:
    """The preview again after a change of mapping or journey (htmx swaps it in)."""
    kept = _own_upload(upload_id)
    chosen, journey = _submitted(kept)
    journeys = _journeys()
    shown = preview(kept, chosen, _document(journeys, journey))
    return render_template("imports/_preview.html", upload=kept, preview=shown)


@bp.post("/<upload_id>/run")
@role_required(EDIT_ROLES)
def run(upload_id: str) -> Any:
    """Import the file with the chosen mapping in the background; show its progress."""
    kept = _own_upload(upload_id)
    chosen, journey = _submitted(kept)
    document = _document(_journeys(), journey)
    checked = (
        preview(kept, chosen, document)
        if document is not None
        else Preview(problem=_("Choose a published journey."))
    )
    if checked.problem is not None:
        if request.headers.get("HX-Request"):  # htmx swaps only 2xx answers into the page
            return render_template("imports/_preview.html", upload=kept, preview=checked)
        return _mapping_page(kept, chosen, journey, 422)
    remember(kept, chosen, journey)
    db = get_db()
    params = {"filename": kept.filename, "journey": journey, "upload_id": kept.id}
    with db.transaction() as session:
        job = create_job(session, KIND, current_user.id, utcnow(), params, total=checked.total)
    start_job(db, job, _work(db, kept.text, journey, chosen))
    if request.headers.get("HX-Request"):
        return show(job.id)
    return redirect(url_for("imports.show", run_id=job.id))


@bp.get("/runs/<run_id>")
@role_required(EDIT_ROLES)
def show(run_id: str) -> Any:
    """Progress while importing (the fragment polls itself every 500 ms), then the summary."""
    job = get_job(get_db(), run_id, utcnow())
    if job is None or job.kind != KIND or job.user_id != current_user.id:
        abort(404)
    return page_or_partial(
        "imports/run.html", "imports/_run.html", run=Run.of(job), shown=SHOWN_ERRORS
    )


def _work(db: Database, text: str, journey: str, mapping: dict[str, str]) -> Any:
    """The job's work: import, reporting rows done, and return the report as JSON."""

    def work(progress: Progress) -> dict[str, Any]:
        try:
            report = import_cases(
                db, io.StringIO(text), journey, utcnow(), column_map=mapping, progress=progress
            )
        except CaseImportError as exc:
            raise JobFailed(str(exc)) from exc
        return report_json(report)

    return work


def report_json(report: ImportReport) -> dict[str, Any]:
    """The report as the summary shows it: counts, warnings and the first SHOWN_ERRORS errors."""
    errors = report.errors[:SHOWN_ERRORS]
    return {
        "imported": report.imported,
        "unchanged": report.unchanged,
        "error_count": len(report.errors),
        "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in errors],
        "warnings": list(report.warnings),
    }
