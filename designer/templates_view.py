"""Templates: edit a message per channel, locale and tone with a live preview on a sample case."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from marshmallow import ValidationError

from connectors import InvalidAddressError
from connectors.letter_pdf import render_letter
from connectors.sms_encoding import analyse
from designer.auth import EDIT_ROLES, role_required
from designer.drafts import saved_message, store_edit
from designer.i18n import _, current_lang
from designer.render import page_or_partial
from engine import (
    CHANNELS,
    TONES,
    ConfigError,
    InvalidJourney,
    LifecycleError,
    RenderError,
    case_context,
    connector_message,
    load_delivery_config,
    load_journey,
    queries,
    render_message,
    template_problems,
    text_findings,
    utcnow,
    version_problems,
)
from mahnwerk_web.db import transaction

bp = Blueprint("templates", __name__, url_prefix="/journeys/<key>/v<int:number>/templates")
PARTS = ("subject", "body", "html")
SAMPLE_ATTRIBUTE = {"number": 42, "boolean": True, "string": "standard"}
# Where the sample debtor lives, by the journey's jurisdiction: a letter needs an address of
# the country its law is for (street, postcode, city, country).
SAMPLE_ADDRESS = {
    "DE": ("Lindenstraße 12", "50674", "Köln", "DE"),
    "UK": ("12 Station Road", "M1 4BT", "Manchester", "GB"),
    "US": ("1200 Elm Street", "75201", "Dallas", "US"),
}


def _version(key: str, number: int) -> Any:
    with transaction() as session:
        version = queries.get_version(session, key, number)
    if version is None:
        abort(404)
    return version


def form_variant(doc: dict[str, Any]) -> dict[str, Any]:
    """The template variant being edited, from the request form."""
    form = request.form if request.method == "POST" else request.args
    tone = form.get("tone", type=int)
    channel = form.get("channel") or "email"
    sms = channel == "sms"  # an SMS is text alone: no subject, no HTML
    return {
        "key": form.get("template", "").strip(),
        "channel": channel,
        "locale": form.get("locale", "").strip() or doc.get("locale", "en"),
        "tone": tone if tone in TONES else 1,
        "subject": "" if sms else form.get("subject", ""),
        "body": form.get("body", ""),
        "html": None if sms else form.get("html") or None,
    }


def stored_variant(doc: dict[str, Any], key: str, locale: str, tone: int) -> dict[str, Any] | None:
    """A variant as stored in the document, with its template's key and channel."""
    template = (doc.get("templates") or {}).get(key)
    for variant in (template or {}).get("variants", []):
        if variant["locale"] == locale and variant["tone"] == tone:
            return {"key": key, "channel": template["channel"], "html": None, **variant}
    return None


def with_variant(doc: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with this variant added or replaced."""
    doc = copy.deepcopy(doc)
    templates = doc.setdefault("templates", {})
    template = templates.setdefault(v["key"], {"channel": v["channel"], "variants": []})
    template["channel"] = v["channel"]
    stored = {k: v[k] for k in ("locale", "tone", "subject", "body")}
    if v.get("html"):
        stored["html"] = v["html"]
    template["variants"] = [
        x for x in template["variants"] if (x["locale"], x["tone"]) != (v["locale"], v["tone"])
    ] + [stored]
    return doc


def variant_problems(v: dict[str, Any]) -> dict[str, list[str]]:
    """Part name -> syntax errors and unknown variables, before anything is saved."""
    found = {part: template_problems(v[part]) for part in PARTS if v.get(part)}
    for part, problems in form_problems(v).items():
        found[part] = [*found.get(part, []), *problems]
    return {part: problems for part, problems in found.items() if problems}


def form_problems(v: dict[str, Any]) -> dict[str, list[str]]:
    """What keeps a variant from being stored at all: no key, or no text.

    Syntax errors and unknown variables do not: a draft may keep them until it is submitted.
    """
    found = {}
    if not v["key"]:
        found["key"] = [_("Give the template a key, e.g. reminder.")]
    if not v["body"].strip():
        found["body"] = [_("The text is empty.")]
    return found


def editable(version: Any) -> bool:
    """Whether the signed-in user may change this version's templates: an editor, a draft."""
    return bool(current_user.can_edit and version.status == "draft")


def journey_problems(version: Any) -> list[str]:
    """A draft's validation problems, one line each, in the user's language."""
    if version.status != "draft":
        return []
    return [p.line(current_lang()) for p in version_problems(version)]


def sample_case(doc: dict[str, Any], locale: str) -> SimpleNamespace:
    """A made-up case to preview a message on."""
    now = utcnow()
    street, postcode, city, country = SAMPLE_ADDRESS.get(
        doc.get("jurisdiction", "NONE"), SAMPLE_ADDRESS["DE"]
    )
    return SimpleNamespace(
        external_id="SAMPLE-0001",
        street=street,
        postcode=postcode,
        city=city,
        country=country,
        email="erika@example.org",
        phone="+4915112345678",
        reference="INV-100042",
        debtor_name="Erika Mustermann",
        amount_original=Decimal("189.00"),
        amount_open=Decimal("149.00"),
        currency=doc.get("currency", "EUR"),
        due_date=(now - timedelta(days=14)).date(),
        locale=locale,
        promise_date=(now + timedelta(days=7)).date(),
        attributes={
            a["name"]: SAMPLE_ATTRIBUTE.get(a["type"]) for a in doc.get("attributes") or []
        },
    )


def preview(doc: dict[str, Any], v: dict[str, Any]) -> tuple[Any, str | None]:
    """The variant rendered on the sample case, or the reason it cannot be."""
    try:
        journey = load_journey(with_variant(doc, v))
    except ValidationError as exc:
        return None, str(exc.messages)
    config = current_app.config
    context = case_context(
        sample_case(doc, v["locale"]),
        utcnow(),
        config["PORTAL_BASE_URL"],
        config["CREDITOR_NAME"],
        journey=journey,
    )
    try:
        return render_message(journey, v["key"], v["tone"], v["locale"], context), None
    except RenderError as exc:  # also a render over its budget: the reason, not a 500 or a hang
        return None, exc.words.text(current_lang())


def findings(doc: dict[str, Any], v: dict[str, Any]) -> list[Any]:
    """The compliance findings of the variant being edited, in its journey (engine
    `text_findings`); none while the document cannot be read."""
    if not v.get("key") or not v["body"].strip():
        return []
    try:
        journey = load_journey(with_variant(doc, v))
    except (ValidationError, InvalidJourney):
        return []
    return text_findings(journey, v["key"], v["locale"], v["tone"])


def marked(text: str, found: list[Any], part: str) -> list[tuple[str, Any]]:
    """The part's text cut at its findings: (words, finding or None); a finding overlapping
    an earlier one keeps its place in the list but marks nothing."""
    pieces, at = [], 0
    for f in sorted(
        (f for f in found if f.part == part and f.end > f.start), key=lambda f: f.start
    ):
        if f.start < at:
            continue
        pieces += [(text[at : f.start], None), (text[f.start : f.end], f)]
        at = f.end
    return [*pieces, (text[at:], None)] if pieces else []


def normalised(v: dict[str, Any]) -> dict[str, Any]:
    """The variant with the line ends a browser's field counts in (CRLF is posted as one
    character in the field's value), so offsets mark the same characters there."""
    return {**v, **{p: (v.get(p) or "").replace("\r\n", "\n") for p in ("subject", "body")}}


def sms_count(variant: dict[str, Any], rendered: Any) -> Any:
    """Encoding, length and segments of a rendered SMS, by the connectors' own rules."""
    return analyse(rendered.body) if rendered is not None and variant["channel"] == "sms" else None


@bp.get("")
def index(key: str, number: int) -> str:
    """The templates of a version and the editor for one variant."""
    version = _version(key, number)
    doc = version.document
    chosen = form_variant(doc)
    variant = stored_variant(doc, chosen["key"], chosen["locale"], chosen["tone"])
    if variant is None:
        first = _first_variant(doc)
        variant = (
            stored_variant(doc, *first)
            if first and not request.args.get("new")
            else {**chosen, "body": "", "subject": ""}
        )
    rendered, error = preview(doc, variant) if variant.get("key") else (None, None)
    variant = normalised(variant)
    return render_template(
        "templates/index.html",
        findings=findings(doc, variant),
        marked=marked,
        key=key,
        version=version,
        doc=doc,
        variant=variant,
        channels=CHANNELS,
        tones=TONES,
        problems=variant_problems(variant) if variant.get("key") else {},
        rendered=rendered,
        render_error=error,
        sms=sms_count(variant, rendered),
        editable=editable(version),
        draft_problems=journey_problems(version),
    )


def _first_variant(doc: dict[str, Any]) -> tuple[str, str, int] | None:
    for template_key, template in sorted((doc.get("templates") or {}).items()):
        for variant in template["variants"]:
            return template_key, variant["locale"], variant["tone"]
    return None


@bp.post("/preview")
def live_preview(key: str, number: int) -> str:
    """The preview fragment, re-rendered as the user types."""
    doc = _version(key, number).document
    variant = normalised(form_variant(doc))
    problems = variant_problems(variant)
    rendered, error = preview(doc, variant) if not problems else (None, None)
    return page_or_partial(
        "templates/preview_page.html",
        "templates/_preview.html",
        findings=findings(doc, variant),
        marked=marked,
        oob=True,  # the findings under the fields are swapped out of band
        variant=variant,
        problems=problems,
        rendered=rendered,
        render_error=error,
        sms=sms_count(variant, rendered),
    )


@bp.post("/letter.pdf")
def letter_pdf(key: str, number: int) -> Response | tuple[str, int]:
    """The letter as the debtor gets it: the DIN 5008 PDF with its GiroCode, from the text
    in the editor, on the sample case and the configured creditor."""
    version = _version(key, number)
    doc = version.document
    variant = form_variant(doc) | {"channel": "letter"}
    problems = variant_problems(variant)
    rendered, error = preview(doc, variant) if not problems else (None, None)
    if rendered is None:
        reasons = [p for found in problems.values() for p in found] or [error]
        return render_template("field_error.html", error="; ".join(map(str, reasons))), 422
    try:
        company = load_delivery_config().company
        case = sample_case(doc, variant["locale"])
        portal = current_app.config["PORTAL_BASE_URL"]
        message = connector_message("letter", "preview", case, rendered, company, portal, utcnow())
        letter = render_letter(message)
    except (ConfigError, InvalidAddressError) as exc:
        return render_template("field_error.html", error=str(exc)), 422
    response = Response(letter.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{variant["key"]}-preview.pdf"'
    return response


@bp.post("/save")
@role_required(EDIT_ROLES)
def save(key: str, number: int) -> Any:
    """Store the journey with this variant in draft `number` (in place), or in a new draft
    when the version was submitted; template problems are kept and shown, not refused."""
    version = _version(key, number)
    variant = form_variant(version.document)
    problems = form_problems(variant)
    if not problems:
        try:
            with transaction() as session:
                edit = store_edit(session, key, number, with_variant(version.document, variant))
        except InvalidJourney as exc:
            problems = {"journey": [p.line(current_lang()) for p in exc.problems]}
        except LifecycleError as exc:
            problems = {"journey": [exc.text(current_lang())]}
    if problems:
        return render_template(
            "templates/index.html",
            key=key,
            version=version,
            doc=version.document,
            variant=variant,
            channels=CHANNELS,
            tones=TONES,
            problems=problems,
            rendered=None,
            render_error=None,
            editable=editable(version),
            draft_problems=journey_problems(version),
        ), 422
    flash(saved_message(edit), "error" if edit.problems else "message")
    return redirect(
        url_for(
            "templates.index",
            key=key,
            number=edit.number,
            template=variant["key"],
            locale=variant["locale"],
            tone=variant["tone"],
        )
    )
