"""Journeys: list, create, duplicate, import/export, the canvas editor, versions, diff, rules."""

from __future__ import annotations

import json
import re
from typing import Any

from babel.numbers import list_currencies
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from designer.auth import EDIT_ROLES, role_required
from designer.diff import diff_documents
from designer.drafts import saved_message, store_edit
from designer.i18n import _, current_lang, localized
from designer.layout import arrange
from designer.render import page_or_partial
from designer.schema_form import palette, ports_of
from engine import (
    JURISDICTIONS,
    SCHEMA_VERSION,
    CompiledJourney,
    InvalidJourney,
    JsonInputError,
    LifecycleError,
    Problem,
    journey_state,
    load_journey,
    load_json,
    policy_sentences,
    published_version,
    queries,
    rule_sentences,
    save_draft,
    utcnow,
    validate_document,
    version_problems,
    waiting_for_review,
)
from mahnwerk_web.db import transaction

bp = Blueprint("journeys", __name__, url_prefix="/journeys")
CURRENCY_CODES = frozenset(list_currencies())


# The languages a journey's templates are written in first (the UI speaks English and German).
LOCALES = ("de", "de-DE", "de-AT", "de-CH", "en", "en-GB", "en-US")
CURRENCIES = ("EUR", "USD", "GBP", "CHF")  # offered first; any ISO 4217 code may be typed
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-_]{0,63}$")
STARTER_TEXT = {
    "en": (
        "Invoice {{ reference }} is open",
        "Dear {{ debtor_name }},\n\n{{ format_money(amount_open) }} "
        "for invoice {{ reference }} was due on {{ format_date(due_date) }}. "
        "You can pay here: {{ portal_url }}\n\n{{ creditor_name }}",
    ),
    "de": (
        "Rechnung {{ reference }} ist offen",
        "Guten Tag {{ debtor_name }},\n\n{{ format_money(amount_open) }} "
        "aus der Rechnung {{ reference }} waren am {{ format_date(due_date) }} fällig. "
        "Sie können hier bezahlen: {{ portal_url }}\n\n{{ creditor_name }}",
    ),
}


def journey_settings_choices() -> dict[str, Any]:
    """What a journey's language, currency and jurisdiction may be, for the forms."""
    return {
        "locales": list(LOCALES),
        "currencies": list(CURRENCIES),
        "jurisdictions": [*JURISDICTIONS, "NONE"],
    }


def starter_document(
    key: str,
    name: str,
    locale: str = "en",
    currency: str = "EUR",
    jurisdiction: str = "NONE",
) -> dict[str, Any]:
    """A new journey: a start wired to an end, and one email template to build on."""
    subject, body = STARTER_TEXT["de" if locale.startswith("de") else "en"]
    return {
        "schema_version": SCHEMA_VERSION,
        "key": key,
        "name": name,
        "description": "",
        "locale": locale,
        "currency": currency,
        "jurisdiction": jurisdiction,
        "attributes": [],
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "label": "Start",
                "params": {},
                "position": {"x": 40, "y": 160},
            },
            {
                "id": "end",
                "type": "end",
                "label": "Closed",
                "params": {"outcome": "closed"},
                "position": {"x": 300, "y": 160},
            },
        ],
        "edges": [{"from": "start", "port": "next", "to": "end"}],
        "templates": {
            "reminder": {
                "channel": "email",
                "variants": [{"locale": locale, "tone": 1, "subject": subject, "body": body}],
            }
        },
    }


def problems_json(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as JSON for the canvas: message (in the user's language), node, field, and a
    compliance finding's code and grade."""
    lang = current_lang()
    return [
        {
            "message": p.text(lang),
            "node": p.node,
            "field": p.field,
            "severity": p.severity,
            # a compliance finding's rule and grade (BLOCK/HIGH/MED): the canvas's step badges
            "code": p.code,
            "grade": p.grade,
        }
        for p in problems
    ]


def _version_or_404(session: Any, key: str, number: int | None = None) -> Any:
    version = queries.get_version(session, key, number)
    if version is None:
        abort(404)
    return version


def _store(doc: Any, message: str) -> Response | tuple[str, int]:
    """Save a document as a new draft, or show its problems (or why not) on the import page."""
    _journey, problems = validate_document(doc)
    if problems:
        return render_template("journeys/import.html", problems=problems), 422
    try:
        with transaction() as session:
            version, _problems = save_draft(session, doc, utcnow(), current_user.email)
            key, number = doc["key"], version.number
    except InvalidJourney as exc:
        return render_template("journeys/import.html", problems=exc.problems), 422
    except LifecycleError as exc:  # a retired journey takes no new versions
        problem = Problem(exc.text(current_lang()))
        return render_template("journeys/import.html", problems=[problem]), 409
    flash(message)
    return redirect(url_for("journeys.editor", key=key, number=number))


def _index_page(
    new: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> tuple[str, int]:
    """The journeys list, with the 'New journey' form as entered and its errors by field."""
    with transaction() as session:
        journeys = queries.list_journeys(session)
        states, live = {}, {}
        for j in journeys:
            row = queries.journey_by_key(session, j.key)
            states[j.key] = journey_state(session, row) if row is not None else "draft"
            published = published_version(session, j.key)
            live[j.key] = published.number if published is not None else None
        mine = waiting_for_review(session, current_user.email) if current_user.can_review else []
        waiting = [(key, v.number, v.submitted_by, v.submitted_at) for key, v in mine]
    names = {j.key: j.name for j in journeys}
    return render_template(
        "journeys/index.html",
        journeys=journeys,
        states=states,
        live=live,
        waiting=waiting,
        names=names,
        choices=journey_settings_choices(),
        new=new or {},
        errors=errors or {},
    ), (422 if errors else 200)


@bp.get("")
def index() -> Any:
    """Every journey with its newest version's status, its state (live, paused ...), its
    published version and running cases; for reviewers, the versions waiting for them."""
    return _index_page()


def new_journey_errors(form: dict[str, str]) -> dict[str, str]:
    """What is wrong with the 'New journey' form, by field (empty when nothing is)."""
    errors = {}
    if not form["name"]:
        errors["name"] = _("Give the journey a name (spaces alone are no name).")
    elif len(form["name"]) > 200:
        errors["name"] = _("A name has at most 200 characters.")
    if not KEY_PATTERN.match(form["key"]):
        errors["key"] = _("Lower-case letters, digits, - and _; it names the journey in the API.")
    if form["locale"] not in LOCALES:
        errors["locale"] = _("Choose one of the languages offered.")
    if not re.fullmatch(r"[A-Z]{3}", form["currency"]) or form["currency"] not in CURRENCY_CODES:
        errors["currency"] = _("Use a three-letter currency, e.g. EUR.")
    if form["jurisdiction"] not in journey_settings_choices()["jurisdictions"]:
        errors["jurisdiction"] = _("Choose one of the jurisdictions offered.")
    return errors


@bp.post("")
@role_required(EDIT_ROLES)
def create() -> Any:
    """Create a journey from the starter document in the chosen language, currency and law;
    a bad field is named beside it and everything entered stays in the form."""
    form = {
        "key": request.form.get("key", "").strip().lower(),
        "name": request.form.get("name", "").strip(),
        "locale": request.form.get("locale", "en").strip(),
        "currency": request.form.get("currency", "EUR").strip().upper(),
        "jurisdiction": request.form.get("jurisdiction", "NONE").strip(),
    }
    errors = new_journey_errors(form)
    if not errors:
        with transaction() as session:
            if queries.journey_by_key(session, form["key"]):
                errors["key"] = _(
                    "A journey with the key '%(key)s' exists already.", key=form["key"]
                )
    if errors:
        entered = {**form, "name": request.form.get("name", "")}
        return _index_page(new=entered, errors=errors)
    return _store(starter_document(**form), _("Journey created."))


@bp.route("/import", methods=["GET", "POST"])
@role_required(EDIT_ROLES)
def import_document() -> Any:
    """Import a journey document (a file or pasted JSON) as the next version of its journey."""
    if request.method == "GET":
        return render_template("journeys/import.html", problems=[])
    upload = request.files.get("file")
    raw = upload.read().decode("utf-8", "replace") if upload else request.form.get("json", "")
    try:
        doc = load_json(raw)
    except JsonInputError as exc:
        problem = Problem.of(exc.words, field=exc.field)
        return render_template("journeys/import.html", problems=[problem]), 422
    except json.JSONDecodeError as exc:
        problem = Problem(_("This is not JSON: %(error)s", error=str(exc)))
        return render_template("journeys/import.html", problems=[problem]), 422
    if not isinstance(doc, dict) or not isinstance(doc.get("key"), str):
        _journey, problems = validate_document(doc)
        return render_template("journeys/import.html", problems=problems), 422
    return _store(doc, _("Journey imported."))


@bp.get("/<key>")
def latest(key: str) -> Response:
    """The newest version of a journey."""
    with transaction() as session:
        version = _version_or_404(session, key)
    return redirect(url_for("journeys.editor", key=key, number=version.number))


@bp.post("/<key>/duplicate")
@role_required(EDIT_ROLES)
def duplicate(key: str) -> Any:
    """Copy the newest version of a journey into a new journey."""
    new_key = request.form.get("new_key", "").strip().lower()
    with transaction() as session:
        doc = dict(_version_or_404(session, key).document)
        if queries.journey_by_key(session, new_key):
            flash(_("A journey with the key '%(key)s' exists already.", key=new_key), "error")
            return redirect(url_for("journeys.index"))
    doc["key"] = new_key
    doc["name"] = request.form.get("name", "").strip() or _("Copy of %(name)s", name=doc["name"])
    return _store(doc, _("Journey duplicated."))


@bp.get("/<key>/v<int:number>")
def editor(key: str, number: int) -> str:
    """The canvas: palette, graph and the selected node's form."""
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        version = _version_or_404(session, key, number)
    doc = version.document
    return render_template(
        "journeys/editor.html",
        journey=journey,
        version=version,
        document=doc,
        palette=palette(localized),
        ports={n["id"]: ports_of(n["type"], n["params"]) for n in doc["nodes"]},
        editable=editable(version),
        problems=problems_json(version_problems(version)) if version.status == "draft" else [],
        settings_choices=journey_settings_choices(),
    )


def editable(version: Any) -> bool:
    """Whether the signed-in user may change this version: an editor, and a draft."""
    return bool(current_user.can_edit and version.status == "draft")


@bp.get("/<key>/v<int:number>/document")
def export(key: str, number: int) -> Response:
    """A version's journey document as JSON; ?download=1 offers it as a file."""
    with transaction() as session:
        doc = _version_or_404(session, key, number).document
    response = Response(json.dumps(doc, indent=2, ensure_ascii=False), mimetype="application/json")
    if request.args.get("download"):
        filename = f"{key}-v{number}.json"
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/<key>/save")
@role_required(EDIT_ROLES)
def save(key: str) -> tuple[Response, int]:
    """Store the document built from the canvas: draft ?version=N changes in place, else (no
    number, or a version submitted meanwhile) it becomes a new draft. Problems do not refuse
    the save; they come back to be shown, and keep the draft from being submitted."""
    doc = request.get_json(silent=True)
    if not isinstance(doc, dict):
        return jsonify(ok=False, problems=[{"message": _("Send a journey document.")}]), 400
    doc["key"] = key  # the URL names the journey; the canvas cannot move a version elsewhere
    try:
        with transaction() as session:
            edit = store_edit(session, key, request.args.get("version", type=int), doc)
    except InvalidJourney as exc:  # not a journey at all
        return jsonify(ok=False, problems=problems_json(exc.problems)), 422
    except LifecycleError as exc:  # a retired journey takes no new drafts
        message = exc.text(current_lang())
        return jsonify(ok=False, message=message, problems=[{"message": message}]), 409
    return jsonify(
        ok=True,
        version=edit.number,
        created=edit.created,
        url=url_for("journeys.editor", key=key, number=edit.number),
        problems=problems_json(edit.problems),
        message=saved_message(edit),
    ), (201 if edit.created else 200)


@bp.post("/check")
def check() -> Response:
    """Validate a document without saving it (the canvas's 'Check' button)."""
    try:
        doc = load_json(request.get_data(cache=True)) if request.is_json else None
    except JsonInputError as exc:  # too deep, a lone surrogate, a NUL: say so
        problem = Problem.of(exc.words, field=None if exc.field == "_schema" else exc.field)
        return jsonify(ok=False, problems=problems_json([problem]))
    except ValueError:
        doc = None
    _journey, problems = validate_document(doc)
    return jsonify(ok=not any(p.blocks for p in problems), problems=problems_json(problems))


@bp.post("/ports")
def ports() -> Response:
    """The output ports of a node type with the params being edited."""
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    return jsonify(ports=ports_of(str(data.get("type", "")), params))


@bp.post("/layout")
def layout() -> Response:
    """Positions for every node: a layered left-to-right arrangement of the graph."""
    doc = request.get_json(silent=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        return jsonify(positions={})
    return jsonify(positions=arrange(doc))


@bp.get("/<key>/versions")
def versions(key: str) -> str:
    """Every version of a journey, and a form to compare two."""
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        if journey is None:
            abort(404)
        rows = queries.list_versions(session, key)
        running = queries.cases_per_version(session, key)
    return render_template(
        "journeys/versions.html", journey=journey, versions=rows, running=running
    )


@bp.get("/<key>/diff")
def diff(key: str) -> str:
    """What changed from version a to version b, as a list and on b's canvas."""
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        old = _version_or_404(session, key, a)
        new = _version_or_404(session, key, b)
        rows = queries.list_versions(session, key)
    changes = diff_documents(old.document, new.document)
    return page_or_partial(
        "journeys/diff.html",
        "journeys/_diff.html",
        journey=journey,
        old=old,
        new=new,
        versions=rows,
        changes=changes,
        document=new.document,
        ports={n["id"]: ports_of(n["type"], n["params"]) for n in new.document["nodes"]},
        marks=changes.node_marks(),
        palette=palette(localized),
    )


@bp.get("/<key>/v<int:number>/rules")
def rules(key: str, number: int) -> str:
    """The compiled rules as sentences, beside the graph."""
    with transaction() as session:
        journey_row = queries.journey_by_key(session, key)
        version = _version_or_404(session, key, number)
    journey = load_journey(version.document)
    compiled = CompiledJourney.from_json(version.compiled)
    lang = current_lang()
    sentences = rule_sentences(compiled, journey, lang)  # (id, sentence): the anchors "why" links
    return render_template(
        "journeys/rules.html",
        journey=journey_row,
        version=version,
        document=version.document,
        ports={n["id"]: ports_of(n["type"], n["params"]) for n in version.document["nodes"]},
        sentences=sentences,
        palette=palette(localized),
        policy=policy_sentences(lang),
    )
