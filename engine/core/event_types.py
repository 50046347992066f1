"""The events a case can receive from host systems, the portal and connectors."""

from __future__ import annotations

from engine.core.messages import Text, msg

# Events a wait_event node can wait for (the journey goes on when one arrives).
WAITABLE = (
    "payment_received",
    "payment_failed",
    "payment_refunded",
    "chargeback",
    "promise_to_pay",
    "link_clicked",
    "message_delivered",
    "message_bounced",
    "message_opened",
    "message_clicked",
    "message_failed",
    "opted_out",
    "contact_changed",
    "callback_requested",
)

# Events the policy rules act on before any journey sees them.
POLICY = (
    "payment_received",
    "dispute_opened",
    "dispute_resolved",
    "cease_contact",
    "contact_resumed",
    "breathing_space_started",
    "breathing_space_ended",
    "attorney_represented",
    "attorney_withdrawn",
    "insolvency",
    "deceased",
    "case_closed",
)

ALL = tuple(
    dict.fromkeys(
        (
            *WAITABLE,
            *POLICY,
            "consent_changed",
        )
    )
)

# What each waitable event means, as the clause of a rule (German: a subordinate clause).
EVENT_WORDS: dict[str, Text] = {
    "payment_received": msg("a payment arrives"),
    "payment_failed": msg("a payment fails"),
    "payment_refunded": msg("a payment is refunded"),
    "chargeback": msg("a payment is charged back"),
    "promise_to_pay": msg("the debtor promises to pay"),
    "link_clicked": msg("the debtor opens the payment link"),
    "message_delivered": msg("the message is delivered"),
    "message_bounced": msg("the message bounces"),
    "message_opened": msg("the message is opened"),
    "message_clicked": msg("a link in the message is clicked"),
    "message_failed": msg("the message cannot be delivered"),
    "opted_out": msg("the debtor opts out of a channel"),
    "contact_changed": msg("the contact data change"),
    "callback_requested": msg("the debtor asks for a call back"),
}

# What the debtor portal records (portal/): each action is one of these events.
PORTAL = ("promise_to_pay", "dispute_opened", "callback_requested", "consent_changed", "opted_out")
