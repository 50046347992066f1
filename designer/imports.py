"""Import cases from a CSV or XLSX file: map columns, preview, import with progress, summary.

Steps: upload (the file is kept in memory for this process), map each column to a case field
(prefilled from what was chosen last time for the same header, else from engine.importer's
name and alias detection), preview the first rows with their errors by line and column, then
import into a published journey in a background thread whose progress an htmx fragment polls.
Importing is idempotent by external id: the same file again imports nothing new.

Mappings are remembered per header signature (the sha256 of the normalised column names) in
a JSON file under the instance folder (IMPORT_MAPPINGS_FILE overrides the path).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from designer.auth import EDIT_ROLES, role_required
from designer.db import get_db, transaction
from designer.i18n import _
from designer.render import page_or_partial
from engine import utcnow
from engine.db import Database
from engine.importer import (
    CASE_FIELDS,
    CaseImportError,
    ImportReport,
    ParsedRow,
    file_header,
    guess_field,
    import_cases,
    read_rows,
    upload_text,
)
from engine.models import JourneyRow, VersionRow

bp = Blueprint("imports", __name__, url_prefix="/imports")
KEY = "mahnwerk_imports"
KEEP = 20  # uploads and finished runs kept in memory
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


@dataclass
class Run:
    """One import and how far it got."""

    id: str
    upload_id: str
    filename: str
    journey: str
    user_id: int
    total: int = 0
    done: int = 0
    finished: bool = False
    report: ImportReport | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        if self.finished:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class Store:
    """This process's uploads and runs, guarded by a lock (import threads update runs)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uploads: OrderedDict[str, Upload] = OrderedDict()
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self.mappings_lock = threading.Lock()

    def add_upload(self, upload: Upload) -> None:
        """Keep an upload, forgetting the oldest beyond KEEP."""
        with self.lock:
            self.uploads[upload.id] = upload
            while len(self.uploads) > KEEP:
                self.uploads.popitem(last=False)

    def add_run(self, run: Run) -> None:
        """Keep a run, forgetting the oldest finished ones beyond KEEP."""
        with self.lock:
            finished = [r.id for r in self.runs.values() if r.finished]
            for old in finished[: max(len(finished) - KEEP, 0)]:
                del self.runs[old]
            self.runs[run.id] = run


def init_app(app: Flask) -> None:
    """Keep uploads and runs on the app."""
    app.extensions.setdefault(KEY, Store())


bp.record_once(lambda state: init_app(state.app))


def _store() -> Store:
    store = current_app.extensions.get(KEY)
    if store is None:
        store = current_app.extensions[KEY] = Store()
    return store


def _own_upload(upload_id: str) -> Upload:
    upload = _store().uploads.get(upload_id)
    if upload is None or upload.user_id != current_user.id:
        abort(404)
    return upload


# -- remembered mappings ------------------------------------------------------------------------


def _mappings_path() -> Path:
    configured = current_app.config.get("IMPORT_MAPPINGS_FILE")
    return Path(configured) if configured else Path(current_app.instance_path) / "imports.json"


def _load_mappings() -> dict[str, Any]:
    try:
        found = json.loads(_mappings_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def remembered(upload: Upload) -> dict[str, Any]:
    """What was chosen last time for this header: {"columns": {...}, "journey": key}."""
    found = _load_mappings().get(upload.signature)
    return found if isinstance(found, dict) else {}


def remember(upload: Upload, columns: dict[str, str], journey: str) -> None:
    """Keep the mapping for this header (written whole, then renamed into place)."""
    path = _mappings_path()
    with _store().mappings_lock:
        mappings = _load_mappings()
        mappings[upload.signature] = {"columns": columns, "journey": journey}
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".imports-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(mappings, out, ensure_ascii=False, indent=1, sort_keys=True)
        os.replace(temporary, path)


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
    """Read the first PREVIEW_ROWS rows with the mapping (engine.importer.read_rows)."""
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
                raise CaseImportError(_("The file is larger than {mb} MB.", mb=limit // 2**20))
            text = upload_text(file.filename or "", raw)
            header = file_header(text)
            if not any(header):
                raise CaseImportError(_("The file is empty: its first line must name the columns."))
        except CaseImportError as exc:
            error = str(exc)
        else:
            kept = Upload(uuid.uuid4().hex, file.filename or "", text, header, current_user.id)
            _store().add_upload(kept)
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
    job = Run(uuid.uuid4().hex, kept.id, kept.filename, journey, current_user.id, checked.total)
    _store().add_run(job)
    job.thread = threading.Thread(
        target=_work, args=(job, get_db(), kept.text, chosen), daemon=True, name=f"import-{job.id}"
    )
    job.thread.start()
    if request.headers.get("HX-Request"):
        return show(job.id)
    return redirect(url_for("imports.show", run_id=job.id))


@bp.get("/runs/<run_id>")
@role_required(EDIT_ROLES)
def show(run_id: str) -> Any:
    """Progress while importing (the fragment polls itself every 500 ms), then the summary."""
    job = _store().runs.get(run_id)
    if job is None or job.user_id != current_user.id:
        abort(404)
    return page_or_partial("imports/run.html", "imports/_run.html", run=job, shown=SHOWN_ERRORS)


def _work(job: Run, db: Database, text: str, mapping: dict[str, str]) -> None:
    """The thread: import and record progress and the report on the run."""

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        job.report = import_cases(
            db, io.StringIO(text), job.journey, utcnow(), column_map=mapping, progress=progress
        )
    except CaseImportError as exc:
        job.error = str(exc)
    except Exception as exc:  # the page must show any failure instead of polling forever
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = True
