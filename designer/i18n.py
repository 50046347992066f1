"""German and English UI through Flask-Babel, the language kept in the session.

Texts are gettext msgids in English; their German is in the catalog the whole project shares
(`engine/locale/de/LC_MESSAGES/messages.po`, see docs/translations.md). Templates call Flask-Babel's
`_()` / `gettext()` with named placeholders: `_("Saved as draft version %(n)s.", n=3)`. Python code
imports `_` from here (Flask-Babel's `gettext`). A value from the data (a status, a channel, a
role) goes through `word()`, and `N_()` marks such words so that `make messages` finds them.
Engine texts (node labels, problems, rule sentences) render with `localized()` / `.text(lang)`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import Blueprint, Flask, redirect, request, session, url_for
from flask_babel import Babel, format_currency, gettext
from werkzeug.wrappers import Response

from engine import LOCALE_DIR, Text, state_words

LANGUAGES = {"en": "English", "de": "Deutsch"}
bp = Blueprint("i18n", __name__)

_ = gettext


def N_(text: str) -> str:
    """Mark a word for the catalog without translating it here; `word()` translates it."""
    return text


# Words the UI shows from data through word(): statuses, channels, roles, outcomes, tones, audit
# kinds, delivery reasons. Listed so that extraction finds them; the data holds the English.
DATA_WORDS = (
    # journey versions
    N_("draft"),
    N_("in_review"),
    N_("approved"),
    N_("changes_requested"),
    N_("published"),
    N_("superseded"),
    N_("retired"),
    N_("simulation"),
    # cases and their outcomes (simulation charts say them with spaces)
    N_("active"),
    N_("closed"),
    N_("held"),
    N_("stopped"),
    N_("paid"),
    N_("handed_over"),
    N_("written_off"),
    N_("not_eligible"),
    N_("handed over"),
    N_("written off"),
    N_("not eligible"),
    N_("open: active"),
    N_("open: held"),
    # channels
    N_("email"),
    N_("sms"),
    N_("whatsapp"),
    N_("letter"),
    N_("webhook"),
    # roles
    N_("manager"),
    N_("reviewer"),
    N_("admin"),
    N_("viewer"),
    N_("collector"),
    # tones 1-4
    N_("friendly"),
    N_("clear"),
    N_("firm"),
    N_("final"),
    # audit kinds of a case's timeline
    N_("transition"),
    N_("message"),
    N_("event"),
    N_("suppression"),
    N_("assignment"),
    N_("fallback"),
    N_("policy"),
    N_("error"),
    N_("opened"),
    N_("waiting"),
    N_("moved"),
    N_("case_moved"),
    N_("payment_started"),
    N_("payment_refused"),
    N_("payment_for_closed_case"),
    N_("payment_allocated"),
    N_("debtor_credit_kept"),
    N_("debtor_credit_settled"),
    N_("reopened"),
    N_("staff_action"),
    # outbox and webhook delivery statuses, connector results
    N_("pending"),
    N_("sending"),
    N_("sent"),
    N_("deferred"),
    N_("dead"),
    N_("sandboxed"),
    N_("combining"),
    N_("combined"),
    N_("message_combined"),
    N_("combine_released"),
    N_("suppressed"),
    N_("failed"),
    N_("accepted"),
    N_("temporary_failure"),
    N_("permanent_failure"),
    N_("delivered"),
    N_("cancelled"),
    N_("inactive"),
    # why the contact policy held a message back or suppressed it
    N_("quiet_hours"),
    N_("preferred_hours"),
    N_("sunday"),
    N_("public_holiday"),
    N_("min_gap"),
    N_("conversation_cooldown"),
    N_("no_address"),
    N_("case_closed"),
)


def current_lang() -> str:
    """The UI language of this session: chosen, else the browser's best match, else English."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def word(value: object) -> str:
    """A value from the data in the UI language where the catalog knows it, else as it is."""
    text = "" if value is None else str(value)
    # gettext("") would answer the catalog's header; without values nothing is %-formatted.
    return gettext(text) if text else ""


def phrase(value: object) -> str:
    """A code from the data as words: its German where the catalog has it, else with spaces
    ("no_address" -> "keine Adresse" / "no address")."""
    text = word(value)
    return text.replace("_", " ") if text == str(value) else text


def money(amount: Decimal | str | None, currency: str) -> str:
    """An amount with its currency in the UI language ("22.547,63 €", "€22,547.63")."""
    if amount is None or amount == "":
        return ""
    return str(format_currency(Decimal(str(amount)), currency))


def localized(words: Text | str | None) -> str:
    """An engine text (a node type's label, a param's help) in the session's language."""
    if isinstance(words, Text):
        return words.text(current_lang())
    return word(words)


def state_word(state: str | None) -> str:
    """A version's or journey's state in words for a badge ("in review", "in Prüfung")."""
    return state_words(state or "").text(current_lang())


@bp.post("/lang/<code>")
def switch(code: str) -> Response:
    """Remember the chosen language and go back where the user was."""
    if code in LANGUAGES:
        session["lang"] = code
    target = request.form.get("next") or ""
    # Only local paths: an open redirect would let a link send users anywhere.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("journeys.index")
    return redirect(target)


def init_app(app: Flask, locale_selector: Callable[[], str | None] = current_lang) -> None:
    """Flask-Babel on `app` with the shared catalog, and the template helpers.

    Any Flask app of the project (the designer, the host API, a portal) calls this; it may pass
    its own way to choose the language. Templates get Flask-Babel's `_`/`gettext`, `word`,
    `localized`, `state_word`, `LANGUAGES` and `lang`.
    """
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(LOCALE_DIR))
    Babel(app, locale_selector=locale_selector)
    app.jinja_env.globals.update(
        word=word,
        phrase=phrase,
        localized=localized,
        state_word=state_word,
        LANGUAGES=LANGUAGES,
    )
    app.context_processor(lambda: {"lang": locale_selector() or "en"})
