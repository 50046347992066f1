"""The events a case can receive from host systems, the portal and connectors."""

from __future__ import annotations

from engine.core.messages import Text, Verbatim, msg

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
    # instalment plans (engine/payments/plan_book.py)
    "plan_agreed",
    "instalment_paid",
    "instalment_missed",
    "plan_completed",
    "plan_changed",
    "plan_cancelled",
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

# Events that put a case on hold (or stop it for a person) and may name the hold's last day,
# `until` (engine/intake/events.py HoldPayload; the policy rules act on each).
HOLD_STARTS = (
    "cease_contact",
    "breathing_space_started",
    "attorney_represented",
    "insolvency",
    "deceased",
)

# What a case owes beside its principal (engine/money/balance.py): booked by a journey's `fee`
# step and its interest settings, or sent by a host that charges them itself.
CHARGES = ("fee_charged", "interest_booked")
# What a person records on a task (engine/nodes/task.py): each moves the case out of the port of
# the same meaning. Not waitable: only a task step listens for them.
TASK_OUTCOMES = ("task_done", "task_not_reached", "task_promise_taken", "task_escalated")

ALL = tuple(
    dict.fromkeys(
        (
            *WAITABLE,
            *POLICY,
            "consent_changed",
            *CHARGES,
            *TASK_OUTCOMES,
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
    "plan_agreed": msg("an instalment plan is agreed"),
    "instalment_paid": msg("an instalment is paid"),
    "instalment_missed": msg("an instalment is missed"),
    "plan_completed": msg("every instalment is paid"),
    "plan_changed": msg("the debtor changes the instalment plan"),
    "plan_cancelled": msg("the debtor cancels the instalment plan"),
}

# Every event's name as a case's timeline shows it (a noun phrase, not a clause).
EVENT_NAMES: dict[str, Text] = {
    "payment_received": msg("Payment received"),
    "payment_failed": msg("Payment failed"),
    "payment_refunded": msg("Payment refunded"),
    "chargeback": msg("Chargeback"),
    "promise_to_pay": msg("Promise to pay"),
    "link_clicked": msg("Payment link opened"),
    "message_delivered": msg("Message delivered"),
    "message_bounced": msg("Message bounced"),
    "message_opened": msg("Message opened"),
    "message_clicked": msg("Link in message clicked"),
    "message_failed": msg("Message could not be delivered"),
    "opted_out": msg("Opted out of a channel"),
    "contact_changed": msg("Contact data changed"),
    "callback_requested": msg("Call back requested"),
    "plan_agreed": msg("Instalment plan agreed"),
    "instalment_paid": msg("Instalment paid"),
    "instalment_missed": msg("Instalment missed"),
    "plan_completed": msg("Instalment plan completed"),
    "plan_changed": msg("Instalment plan changed"),
    "plan_cancelled": msg("Instalment plan cancelled"),
    "dispute_opened": msg("Dispute opened"),
    "dispute_resolved": msg("Dispute resolved"),
    "cease_contact": msg("Asked to stop contact"),
    "contact_resumed": msg("Contact resumed"),
    "breathing_space_started": msg("Breathing space started"),
    "breathing_space_ended": msg("Breathing space ended"),
    "attorney_represented": msg("Represented by an attorney"),
    "attorney_withdrawn": msg("Attorney withdrawn"),
    "insolvency": msg("Insolvency"),
    "deceased": msg("Debtor deceased"),
    "case_closed": msg("Case closed by the host"),
    "consent_changed": msg("Consent changed"),
    "fee_charged": msg("Fee charged"),
    "interest_booked": msg("Interest booked"),
    "task_done": msg("Task done"),
    "task_not_reached": msg("Task: debtor not reached"),
    "task_promise_taken": msg("Task: promise taken"),
    "task_escalated": msg("Task escalated"),
}


def event_name(event: str) -> Text:
    """An event's name in words for a timeline; an unknown one with spaces for underscores."""
    return EVENT_NAMES.get(event) or Verbatim(event.replace("_", " "))


# What the debtor portal records (portal/): each action is one of these events.
PORTAL = (
    "promise_to_pay",
    "dispute_opened",
    "callback_requested",
    "consent_changed",
    "opted_out",
    "plan_agreed",
    "plan_changed",
    "plan_cancelled",
)
