"""Why did this debtor get this letter: a case's audit trail as steps in plain language.

Each audit row becomes one step in the reader's language. A transition names its rule (the
sentence of the version's compiled rules) and re-evaluates that rule's conditions, and those
of the branches tried before it, against the field values the row recorded (`seen`, written
by engine.run.runtime). A deferral or suppression says which contact-policy decision applied;
a deferral gives the moment in the debtor's time zone as recorded (`zone`, written by the
dispatcher). A sent message names the template variant chosen for the recorded locale and
tone (Template.variant, re-run on the immutable version) and why, where it fell back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import as_utc
from engine.core.messages import DEFAULT_LANG, Text, Verbatim, language, msg
from engine.journey.document import Journey, Template, load_journey
from engine.nodes.base import Clause
from engine.rules.compiler import CompiledJourney
from engine.rules.model import CompiledRule
from engine.rules.sentences import (
    clause_text,
    field_text,
    outcome_text,
    policy_sentence,
    rule_sentence,
    value_text,
)
from engine.storage.models import AuditRow, JourneyRow, VersionRow

# How a moment is shown in the debtor's time zone, per language (babel patterns).
_MOMENT = {"en": "HH:mm, EEEE d MMMM y", "de": "HH:mm 'Uhr', EEEE, d. MMMM y"}
_BABEL = {"en": "en_GB", "de": "de_DE"}


@dataclass(frozen=True)
class ExplainedStep:
    """One step of a case in words: what happened, why, and which rule and version said so."""

    id: int  # the audit row's id
    at: datetime
    kind: str
    node: str | None
    rule: str | None
    journey: str | None  # the version's journey key and number: the rules page to link to
    version: int | None
    summary: str
    reasons: tuple[str, ...]
    rule_sentence: str | None
    # The rule's place on the designer's rules page of the version ("rule-<id>", or the policy
    # rules' list); None where there is no rule to point at.
    rule_anchor: str | None
    outbox_id: int | None


@dataclass(frozen=True)
class _Version:
    key: str
    number: int
    journey: Journey
    compiled: CompiledJourney


def explain_case(
    session: Session,
    case_id: int,
    lang: str = DEFAULT_LANG,
    limit: int | None = None,
    after: int | None = None,
) -> list[ExplainedStep]:
    """Every audit row of a case (after the row id `after`, at most `limit`), explained."""
    query = select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.id)
    if after is not None:
        query = query.where(AuditRow.id > after)
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.scalars(query))
    versions = _versions(session, {r.version_id for r in rows if r.version_id is not None})
    return [explain_row(row, versions.get(row.version_id or -1), lang) for row in rows]


def _versions(session: Session, ids: set[int]) -> dict[int, _Version]:
    """The journey versions the rows name, loaded once each."""
    if not ids:
        return {}
    found = session.execute(
        select(VersionRow, JourneyRow.key)
        .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
        .where(VersionRow.id.in_(ids))
    )
    return {
        v.id: _Version(
            key, v.number, load_journey(v.document), CompiledJourney.from_json(v.compiled)
        )
        for v, key in found
    }


def explain_row(row: Any, version: _Version | None, lang: str = DEFAULT_LANG) -> ExplainedStep:
    """One audit row (anything with AuditRow's attributes) as an explained step."""
    lang = language(lang)
    detail = row.detail if isinstance(row.detail, dict) else {}
    summary, reasons, sentence = _explain(row.kind, row.rule, detail, row.node_id, version)
    outbox_id = detail.get("outbox_id")
    return ExplainedStep(
        id=row.id,
        at=row.at,
        kind=row.kind,
        node=row.node_id,
        rule=row.rule,
        journey=version.key if version else None,
        version=version.number if version else None,
        summary=summary.text(lang),
        reasons=tuple(r.text(lang) for r in reasons),
        rule_sentence=sentence.text(lang) if sentence is not None else None,
        rule_anchor=_anchor(row.kind, row.rule) if sentence is not None else None,
        outbox_id=outbox_id if isinstance(outbox_id, int) else None,
    )


Explained = tuple[Text, list[Text], Text | None]
DOCUMENT_WORDS = {
    "document_stored": msg("The host stored the case's invoice PDF ({bytes} bytes)."),
    "attachment": msg("The email carried the invoice PDF ({bytes} bytes)."),
    "attachment_missing": msg("The email went without the invoice PDF: the host stored none."),
}
POLICY_ANCHOR = "policy-rules"  # the id of the policy rules' list on the rules page


def _anchor(kind: str, rule_id: str | None) -> str:
    return POLICY_ANCHOR if kind == "policy" else f"rule-{rule_id}"


def _explain(
    kind: str, rule_id: str | None, detail: dict[str, Any], node: str | None, v: _Version | None
) -> Explained:
    if kind == "transition" and v is not None and rule_id:
        return _transition(rule_id, detail, v)
    if kind == "policy" and rule_id:
        return msg("A rule for every journey applied."), [], policy_sentence(rule_id)
    if kind in ("deferral", "suppression"):
        return _held_back(kind, detail, v), [], None
    if kind == "message":
        summary, reasons, anchor = _sent(detail, v)
        if detail.get("combined"):  # engine/delivery/consolidation.py: it carried other cases
            ids = ", ".join(str(i) for i in detail["combined"])
            carried = msg(
                "It also listed the open items of the debtor's other cases (messages {ids}).",
                ids=Verbatim(ids),
            )
            reasons = [carried, *reasons]
        return summary, reasons, anchor
    if kind == "message_combined":
        words = msg(
            "{what} went out in one message with the debtor's other open items: message "
            "{carrier} of case {case}.",
            what=_what(detail),
            carrier=_word(detail, "carrier"),
            case=_word(detail, "carrier_case"),
        )
        return words, [], None
    if kind == "combine_released":
        words = msg(
            "{what} goes out on its own: the combined message {carrier} did not go out.",
            what=_what(detail),
            carrier=_word(detail, "carrier"),
        )
        return words, [], None
    if kind == "fallback":
        return _fallback(detail)
    if kind in DOCUMENT_WORDS:  # the invoice PDF: stored by the host, carried or missing
        return DOCUMENT_WORDS[kind].with_params(bytes=_word(detail, "bytes")), [], None
    if kind == "closed":
        outcome = outcome_text(str(detail.get("outcome") or "closed"))
        return msg("The journey ended: {outcome}.", outcome=outcome), [], None
    if kind == "opened":
        return msg("The case was opened and entered its journey."), [], None
    if kind == "event":
        return msg("The event '{event}' arrived.", event=_word(detail, "event")), [], None
    if kind == "case_moved":  # engine/intake/debtor_merge.py: another debtor, or a merge
        words = msg(
            "The case moved from debtor '{before}' to debtor '{after}'.",
            before=_word(detail, "from"),
            after=_word(detail, "to"),
        )
        return words, [], None
    if kind == "assignment":
        words = msg(
            "The case was assigned to arm '{arm}' of the experiment '{experiment}'.",
            arm=_word(detail, "arm"),
            experiment=_word(detail, "experiment"),
        )
        return words, [], None
    reason = detail.get("reason") or detail.get("error")
    words = Verbatim(f"{kind}: {reason}" if reason else kind)
    return words, [], None


# Why a fallback hop was taken: the reason codes the runtime, dispatcher and reports write.
_FALLBACK_WHY: dict[str, Text] = {
    "no_consent": msg("There is no consent on record for contact by {channel}."),
    "opted_out": msg("The debtor opted out of contact by {channel}."),
    "bounced": msg("The {channel} message bounced."),
    "refused": msg("The provider refused the {channel} message as undeliverable."),
}


def _fallback(detail: dict[str, Any]) -> Explained:
    """Which hop of the fallback chain went out instead, and why the ones before did not."""
    summary = msg(
        "The fallback channel {fallback} was queued instead of {channel}.",
        fallback=_channel(detail, "fallback"),
        channel=_channel(detail),
    )
    hop = detail.get("hop")
    if not isinstance(hop, int):  # a row from before fallback chains
        return summary, [], None
    reasons: list[Text] = [msg("It is fallback {hop} of the step's chain.", hop=hop)]
    why = str(detail.get("reason") or "")
    if why.startswith("no_address") or why.startswith("invalid_address"):
        reasons.append(msg("There is no usable address for {channel}.", channel=_channel(detail)))
    elif why in _FALLBACK_WHY:
        reasons.append(_FALLBACK_WHY[why].with_params(channel=_channel(detail)))
    for skipped in detail.get("skipped") or ():
        reasons.append(
            msg(
                "{channel} was skipped: there is no address for it.",
                channel=_Capitalized(_channel({"channel": skipped})),
            )
        )
    return summary, reasons, None


def _word(detail: dict[str, Any], key: str) -> Verbatim:
    return Verbatim(str(detail.get(key) or "?"))


# The channels as a sentence names them: bare, and with their article (German's differs).
_CHANNELS: dict[str, Text] = {
    "email": msg("email"),
    "sms": msg("SMS"),
    "whatsapp": msg("WhatsApp"),
    "letter": msg("letter"),
    "webhook": msg("webhook"),
}
_THE_CHANNELS: dict[str, Text] = {
    "email": msg("the email"),
    "sms": msg("the SMS"),
    "whatsapp": msg("the WhatsApp message"),
    "letter": msg("the letter"),
    "webhook": msg("the webhook"),
}
_STATUSES: dict[str, Text] = {"sent": msg("sent"), "sandboxed": msg("sandboxed")}


def _channel(detail: dict[str, Any], key: str = "channel", article: bool = False) -> Text:
    name = detail.get(key)
    if not name and article:  # a row that does not name its channel
        return msg("the message")
    return (_THE_CHANNELS if article else _CHANNELS).get(str(name)) or Verbatim(str(name or "?"))


def _what(detail: dict[str, Any]) -> Text:
    """'The email 'reminder'' / 'Die E-Mail „reminder“', opening a sentence."""
    words = msg(
        "{channel} '{template}'",
        channel=_channel(detail, article=True),
        template=_word(detail, "template"),
    )
    return _Capitalized(words)


# -- transitions -------------------------------------------------------------------------------


def _transition(rule_id: str, detail: dict[str, Any], v: _Version) -> Explained:
    """The rule that fired, its conditions with the values seen, and the branches before it."""
    try:
        rule = v.compiled.rule(rule_id)
    except KeyError:
        return msg("The rule '{rule}' fired.", rule=Verbatim(rule_id)), [], None
    sentence = _RuleSentence(rule, v.journey)
    label = _label(v.journey, rule.node)
    if rule.outcome:
        summary: Text = msg(
            "At '{node}' the journey ended as '{outcome}'.",
            node=label,
            outcome=outcome_text(rule.outcome),
        )
    else:
        summary = msg(
            "From '{node}' the case went on to '{target}'.",
            node=label,
            target=_label(v.journey, rule.target or "?"),
        )
    seen = detail.get("seen")
    if not isinstance(seen, dict):  # a node without conditions, or a row from before `seen`
        return summary, [], sentence
    reasons: list[Text] = []
    currency = v.journey.currency
    for earlier in _tried_before(rule, v.compiled):
        failed = [c for c in earlier.when if not holds(c, seen.get(c.field))]
        for clause in failed[:1]:  # one failing condition is why that branch was not taken
            reasons.append(_clause_seen(clause, seen, currency, held=False))
    for clause in rule.when:
        reasons.append(
            _clause_seen(clause, seen, currency, held=holds(clause, seen.get(clause.field)))
        )
    return summary, reasons, sentence


def _tried_before(rule: CompiledRule, compiled: CompiledJourney) -> list[CompiledRule]:
    """The rules at the same node and trigger durable tried first (a lower pri) that have tests."""
    return sorted(
        (
            r
            for r in compiled.rules
            if r.node == rule.node and r.trigger == rule.trigger and r.pri < rule.pri and r.when
        ),
        key=lambda r: r.pri,
    )


_HELD = msg("{field} was {value}, so the condition “{condition}” held.")
_NOT_HELD = msg("{field} was {value}, so the condition “{condition}” did not hold.")


def _clause_seen(clause: Clause, seen: dict[str, Any], currency: str, held: bool) -> Text:
    words = (_HELD if held else _NOT_HELD).with_params(
        field=field_text(clause.field),
        value=value_text(clause.field, seen.get(clause.field), currency),
        condition=clause_text(clause, currency),
    )
    return _Capitalized(words)


def holds(clause: Clause, value: Any) -> bool:
    """Whether a clause holds for a value, as durable_rules tests it (no value: no test holds)."""
    if value is None:
        return False
    op, want = clause.op, clause.value
    try:
        if op == "eq":
            return bool(value == want)
        if op == "ne":
            return bool(value != want)
        if op == "in":
            return value in want
        if op == "not_in":
            return value not in want
        if op == "gt":
            return bool(value > want)
        if op == "gte":
            return bool(value >= want)
        if op == "lt":
            return bool(value < want)
        if op == "lte":
            return bool(value <= want)
    except TypeError:  # a string against a number: durable finds no match either
        return False
    return False


@dataclass(frozen=True)
class _RuleSentence:
    """A compiled rule's sentence, worded when asked for in a language."""

    rule: CompiledRule
    journey: Journey

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The sentence the rules page shows for this rule."""
        return rule_sentence(self.rule, self.journey, lang)


@dataclass(frozen=True)
class _Capitalized:
    """A text whose first letter is upper case (a field label opens the sentence)."""

    inner: Text

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words, first letter capitalised."""
        words = self.inner.text(lang)
        return words[:1].upper() + words[1:]


def _label(journey: Journey, node_id: str) -> Verbatim:
    node = journey.nodes_by_id().get(node_id)
    return Verbatim((node.label or node.id) if node else node_id)


# -- the contact policy ------------------------------------------------------------------------


def _held_back(kind: str, detail: dict[str, Any], v: _Version | None) -> Text:
    """'The email 'reminder' was deferred to 08:00, Tuesday ...: quiet hours in ... Berlin.'"""
    reason = str(detail.get("reason") or "")
    zone = detail.get("zone")
    why = reason_words(reason, zone, detail.get("message"))
    if "channel" not in detail and reason.startswith("no_address:"):  # the tick's own rows
        detail = {**detail, "channel": reason.partition(":")[2]}
    if kind == "suppression":
        return msg("{what} was not sent: {why}.", what=_what(detail), why=why)
    until = detail.get("until")
    return msg(
        "{what} was deferred to {until}: {why}.",
        what=_what(detail),
        until=_Moment(str(until), zone),
        why=why,
    )


def reason_words(code: str, zone: Any = None, recorded: Any = None) -> Text:
    """A contact-policy reason code (contact_policy/reasons.py) in words of any language."""
    where = Verbatim(str(zone)) if zone else msg("unknown")
    head, _, rest = code.partition(":")
    fixed: dict[str, Text] = {
        "quiet_hours": msg("quiet hours in the debtor's time zone, {zone}", zone=where),
        "sunday": msg("no contact on Sundays in the debtor's time zone, {zone}", zone=where),
        "public_holiday": msg("a public holiday where the debtor lives"),
        "preferred_hours": msg("outside the hours the debtor asked to be contacted"),
        "conversation_cooldown": msg("a telephone conversation took place recently"),
        "min_gap": msg("too soon after the previous message to this debtor"),
        "no_consent": msg("no consent on record for this channel"),
        "opted_out": msg("the debtor opted out of this channel"),
        "case_closed": msg("the case was closed before it went out"),
        "no_address": msg("no address is known for this channel"),
    }
    if head in fixed:
        return fixed[head]
    if head == "frequency_cap":
        channel, _, limit = rest.partition(":")
        return msg(
            "the limit of {limit} messages by {channel} is reached",
            limit=Verbatim(limit),
            channel=Verbatim(channel),
        )
    if head == "hold":
        return msg("contact is on hold ({hold})", hold=Verbatim(rest))
    # A reason without words of its own: as recorded (its sentence's full stop is the caller's).
    return Verbatim(str(recorded or code).rstrip("."))


@dataclass(frozen=True)
class _Moment:
    """A recorded UTC moment shown in the debtor's time zone (UTC where none was recorded)."""

    iso: str
    zone: Any

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """'08:00, Tuesday 3 March 2026' / '08:00 Uhr, Dienstag, 3. März 2026'."""
        code = language(lang)
        try:
            moment = as_utc(datetime.fromisoformat(self.iso))
        except ValueError:
            return self.iso
        try:
            zone = ZoneInfo(str(self.zone)) if self.zone else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return format_datetime(moment, _MOMENT[code], tzinfo=zone, locale=_BABEL[code])


# -- messages and template variants ------------------------------------------------------------


def _sent(detail: dict[str, Any], v: _Version | None) -> Explained:
    status = str(detail.get("status") or "?")
    summary = msg(
        "{what} went out ({status}).",
        what=_what(detail),
        status=_STATUSES.get(status) or Verbatim(status),
    )
    template = v.journey.templates.get(str(detail.get("template"))) if v else None
    locale, tone = detail.get("locale"), detail.get("tone")
    if template is None or not isinstance(locale, str) or not isinstance(tone, int):
        return summary, [], None
    return summary, variant_reasons(template, locale, tone), None


def variant_reasons(template: Template, locale: str, tone: int) -> list[Text]:
    """Which variant Template.variant chooses for a locale and tone, and why (its fallbacks)."""
    chosen = template.variant(locale, tone)
    if chosen is None:
        return []
    asked = {"locale": Verbatim(locale), "tone": tone}
    got = {"variant_locale": Verbatim(chosen.locale), "variant_tone": chosen.tone}
    reasons: list[Text] = [
        msg(
            "The variant {variant_locale}, tone {variant_tone} was chosen for the debtor's "
            "language {locale} and the step's tone {tone}.",
            **asked,
            **got,
        )
    ]
    lang = locale.split("-")[0].lower()
    if chosen.locale.lower() == locale.lower():
        reasons.append(msg("It is written for exactly that language and region."))
    elif chosen.locale.split("-")[0].lower() == lang:
        reasons.append(
            msg(
                "There is no variant for {locale}; one in the same language was taken.",
                **asked,
            )
        )
    else:
        reasons.append(
            msg(
                "There is no variant in the debtor's language ({locale}); "
                "the {variant_locale} variant was taken.",
                **asked,
                **got,
            )
        )
    if chosen.tone != tone:
        reasons.append(
            msg(
                "There is no tone {tone} variant in {variant_locale}; "
                "the nearest tone, {variant_tone}, was taken.",
                **asked,
                **got,
            )
        )
    return reasons
