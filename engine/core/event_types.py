"""The events a case can receive from host systems, the portal and connectors."""

from __future__ import annotations

# Events a wait_event node can wait for (the journey goes on when one arrives).
WAITABLE = (
    "payment_received",
    "payment_failed",
    "promise_to_pay",
    "link_clicked",
    "message_delivered",
    "message_bounced",
    "message_opened",
    "message_clicked",
    "message_failed",
    "opted_out",
    "contact_changed",
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

EVENT_WORDS = {
    "payment_received": "a payment arrives",
    "payment_failed": "a payment fails",
    "promise_to_pay": "the debtor promises to pay",
    "link_clicked": "the debtor opens the payment link",
    "message_delivered": "the message is delivered",
    "message_bounced": "the message bounces",
    "message_opened": "the message is opened",
    "message_clicked": "a link in the message is clicked",
    "message_failed": "the message cannot be delivered",
    "opted_out": "the debtor opts out of a channel",
    "contact_changed": "the contact data change",
}
