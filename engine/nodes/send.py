"""Send: queue one message (email, SMS or letter) from a template, then go on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from marshmallow import Schema, fields, validate

from engine.core.messages import Joined, Text, Verbatim, msg, pmsg
from engine.journey.document import DOCUMENT_KINDS, TONES, channel_choice, fallback_chain
from engine.nodes.base import Entry, NodeType, Problem, RuleSpec, SendRequest, param, rule_spec
from engine.nodes.window import SlotParams, release_at, with_slot

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node, Template

# What a message is for: the contact policy's hold rules let some purposes through (a US
# dispute allows a verification notice, a cure period a remedy notice: engine/contact_policy).
PURPOSES = (
    "reminder",
    "demand",
    "validation_notice",
    "verification_notice",
    "remedy_notice",
    "termination_notice",
    "information",
)
PURPOSE_WORDS: dict[str, Text] = {
    "reminder": msg("reminder"),
    "demand": msg("demand for payment"),
    "validation_notice": msg("validation notice"),
    "verification_notice": pmsg("purpose", "verification notice after a dispute (US)"),
    "remedy_notice": pmsg("purpose", "notice of a specific remedy (US)"),
    "termination_notice": msg("termination notice"),
    "information": msg("information"),
}


CHANNEL_WORDS: dict[str, Text] = {
    "email": msg("email"),
    "sms": msg("sms"),
    "letter": msg("letter"),
    "whatsapp": msg("WhatsApp"),
}
NO_TEMPLATE = msg("There is no template '{key}' in this journey.")


def channel_words(channel: object) -> Text:
    """A channel as a manager reads it ('E-Mail', 'Brief'); an unknown one as given."""
    return CHANNEL_WORDS.get(str(channel)) or Verbatim(str(channel))


# At most this many fallbacks per step: every registered channel once is the longest useful chain.
MAX_FALLBACKS = 4
MAX_BCC = 5  # blind copies per email step: an archive or a second reader, not a list


class FallbackSchema(Schema):
    """One hop of a fallback chain: a channel and, optionally, its own template."""

    channel = fields.String(
        required=True,
        validate=channel_choice(),
        metadata=param(msg("Channel"), msg("The channel tried at this hop.")),
    )
    template = fields.String(
        load_default=None,
        allow_none=True,
        metadata=param(
            msg("Template"),
            msg("The text for this channel; empty: the step's own template."),
        ),
    )


class SendParams(SlotParams):
    channel = fields.String(
        required=True,
        validate=channel_choice(),
        metadata=param(msg("Channel"), msg("How the message reaches the debtor.")),
    )
    template = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata=param(
            msg("Template"), msg("Which template to send (its text per language and tone).")
        ),
    )
    tone = fields.Integer(
        load_default=1,
        validate=validate.OneOf(TONES),
        metadata=param(msg("Tone"), msg("1 friendly, 2 clear, 3 firm, 4 final.")),
    )
    fallback_channel = fields.String(
        load_default=None,
        allow_none=True,
        validate=channel_choice(None),
        metadata=param(
            msg("Fallback channel"), msg("Used when there is no address or consent for the first.")
        ),
    )
    fallback_template = fields.String(
        load_default=None,
        allow_none=True,
        metadata=param(
            msg("Fallback template"),
            msg("The text for the fallback channel (an SMS needs other words than a letter)."),
        ),
    )
    fallbacks = fields.List(
        fields.Nested(FallbackSchema),
        load_default=list,
        validate=validate.Length(max=MAX_FALLBACKS),
        metadata=param(
            msg("Fallback chain"),
            msg(
                "Channels tried in order when the one before cannot reach the debtor (no "
                "address, no consent, opted out, a hard bounce); one message goes out per step."
            ),
        ),
    )
    bcc = fields.List(
        fields.Email(),
        load_default=list,
        validate=validate.Length(max=MAX_BCC),
        metadata=param(
            msg("Blind copies"),
            msg("Email addresses that get a blind copy of an email (at most 5), e.g. an archive."),
        ),
    )
    attach = fields.List(
        fields.String(validate=validate.OneOf(DOCUMENT_KINDS)),
        load_default=list,
        validate=validate.Length(max=len(DOCUMENT_KINDS)),
        metadata=param(
            msg("Attachments"),
            msg(
                "Files of the case an email carries: 'invoice' (the PDF the host stored). "
                "A case without it gets the email without it, and the audit says so."
            ),
            choices={"invoice": msg("Invoice (PDF)")},
        ),
    )
    purpose = fields.String(
        load_default="reminder",
        validate=validate.OneOf(PURPOSES),
        metadata=param(
            msg("Purpose"),
            msg("What the message is for; the contact policy may depend on it."),
            choices=PURPOSE_WORDS,
        ),
    )


class Send(NodeType):
    """Queue a message in the outbox; delivery happens later through the contact-policy guard."""

    name = "send"
    label = msg("Send message")
    help = msg("Send an email, SMS or letter from a template in the debtor's language.")
    params_schema = SendParams

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        channel = channel_words(node.params.get("channel", "message"))
        queued: Text = msg(
            "the {channel} '{template}' has been queued",
            channel=channel,
            template=node.params.get("template", "?"),
        )
        chain = fallback_chain(node.params)
        if chain:
            queued = msg("{queued} ({chain})", queued=queued, chain=chain_words(node.params))
        if node.params.get("attach"):
            queued = msg("{queued} with the invoice PDF attached", queued=queued)
        return [rule_spec(node.id, "enter", "next", with_slot(queued, node.params))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        p = node.params
        chain = tuple((hop, text or p["template"]) for hop, text in fallback_chain(p))
        return Entry(
            send=SendRequest(
                channel=p["channel"],
                template=p["template"],
                tone=int(p.get("tone", 1)),
                fallback_channel=chain[0][0] if chain else None,
                fallback_template=p.get("fallback_template"),
                purpose=p.get("purpose", "reminder"),
                fallbacks=chain,
                bcc=tuple(p.get("bcc") or ()),
                attach=tuple(p.get("attach") or ()),
            ),
            not_before=release_at(p, case, now),
        )

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        key = node.params.get("template")
        channel = node.params.get("channel")
        template = journey.templates.get(key) if key else None
        if key and template is None:
            return [Problem.of(NO_TEMPLATE.with_params(key=key), node.id, "template")]
        problems = []
        if template is not None and template.channel != channel:
            mismatch = msg(
                "Template '{key}' is for {template_channel}, but this step sends {channel}.",
                key=key,
                template_channel=channel_words(template.channel),
                channel=channel_words(channel),
            )
            problems.append(Problem.of(mismatch, node.id, "template"))
        if template is not None:
            problems += self._check_tone(node, journey, template)
        problems += self._check_fallback(node, journey)
        if node.params.get("fallback_channel") == channel:
            same = msg("The fallback channel is the same as the channel.")
            problems.append(Problem.of(same, node.id, "fallback_channel"))
        problems += self._check_chain(node, journey)
        problems += self._check_attach(node)
        return problems

    @staticmethod
    def _check_attach(node: Node) -> list[Problem]:
        """Files go only with an email: the step's channel or a hop of its chain (each kind once:
        the list is as long as the kinds at most)."""
        attach = node.params.get("attach") or []
        channels = [node.params.get("channel")] + [ch for ch, _ in fallback_chain(node.params)]
        if attach and "email" not in channels:
            only = msg("Attachments go only with an email; this step sends no email.")
            return [Problem.of(only, node.id, "params.attach")]
        return []

    @staticmethod
    def _check_chain(node: Node, journey: Journey) -> list[Problem]:
        """The list of fallbacks: each channel once (no way back to one tried), texts that fit."""
        hops = node.params.get("fallbacks") or []
        if not isinstance(hops, list):
            return []
        problems = []
        if hops and node.params.get("fallback_channel"):
            both = msg(
                "Use either the fallback channel or the fallback chain, not both; the chain "
                "can hold the fallback channel as its first hop."
            )
            problems.append(Problem.of(both, node.id, "params.fallbacks"))
        seen = [node.params.get("channel")]
        for i, hop in enumerate(hops):
            if not isinstance(hop, dict):
                continue
            where, channel = f"params.fallbacks.{i}", hop.get("channel")
            if channel in seen:
                again = msg(
                    "Fallback {n} goes back to {channel}, which this step already tries; "
                    "each channel may appear once in a chain.",
                    n=i + 1,
                    channel=channel_words(channel),
                )
                problems.append(Problem.of(again, node.id, f"{where}.channel"))
            seen.append(channel)
            key = hop.get("template")
            if not key:
                continue
            template = journey.templates.get(key)
            if template is None:
                no_text = NO_TEMPLATE.with_params(key=key)
                problems.append(Problem.of(no_text, node.id, f"{where}.template"))
            elif template.channel != channel:
                mismatch = msg(
                    "Template '{key}' is for {template_channel}, but fallback {n} sends {channel}.",
                    key=key,
                    template_channel=channel_words(template.channel),
                    n=i + 1,
                    channel=channel_words(channel),
                )
                problems.append(Problem.of(mismatch, node.id, f"{where}.template"))
        return problems

    @staticmethod
    def _check_tone(node: Node, journey: Journey, template: Template) -> list[Problem]:
        """A step's tone with no variant of its own: say which one goes out instead."""
        tone = node.params.get("tone", 1)
        if not isinstance(tone, int) or any(v.tone == tone for v in template.variants):
            return []
        sent = template.variant(journey.locale, tone)
        if sent is None:
            return []
        other = msg(
            "Template '{key}' has no variant of tone {tone}; tone {sent} ({locale}) will be sent.",
            key=node.params.get("template"),
            tone=tone,
            sent=sent.tone,
            locale=sent.locale,
        )
        return [Problem.of(other, node.id, "params.tone", severity="warning")]

    @staticmethod
    def _check_fallback(node: Node, journey: Journey) -> list[Problem]:
        key, fallback = node.params.get("fallback_template"), node.params.get("fallback_channel")
        if not key:
            return []
        if not fallback:
            needs = msg("A fallback template needs a fallback channel.")
            return [Problem.of(needs, node.id, "fallback_template")]
        template = journey.templates.get(key)
        if template is None:
            return [Problem.of(NO_TEMPLATE.with_params(key=key), node.id, "fallback_template")]
        if template.channel != fallback:
            mismatch = msg(
                "Template '{key}' is for {template_channel}, but the fallback channel is "
                "{fallback}.",
                key=key,
                template_channel=channel_words(template.channel),
                fallback=channel_words(fallback),
            )
            return [Problem.of(mismatch, node.id, "fallback_template")]
        return []


def chain_words(params: dict[str, object]) -> Text:
    """'by email, else SMS, else letter' in the reader's language."""
    first = msg("by {channel}", channel=channel_words(params.get("channel")))
    rest = [msg("else {channel}", channel=channel_words(c)) for c, _ in fallback_chain(params)]
    return Joined((first, *rest), ", ")


NODE_TYPE = Send()
