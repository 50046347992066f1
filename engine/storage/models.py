"""SQLAlchemy models: journeys, versions, debtors, cases, events, outbox, audit, users, jobs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Money = Numeric(14, 2)
# SQLite only auto-increments INTEGER primary keys; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base; JSON columns map to JSON on SQLite and PostgreSQL."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class JourneyRow(Base):
    """A journey: a named line of versions, and whether it is paused or retired."""

    __tablename__ = "journeys"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Reviewer approvals a version needs before it can be published (engine/authoring/lifecycle).
    approvals_required: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)


class VersionRow(Base):
    """One version of a journey: its document and compiled rules, immutable once submitted."""

    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    compiled: Mapped[dict[str, Any]] = mapped_column(JSON)
    ruleset: Mapped[str] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The review (engine/authoring/lifecycle.py): the hash of the document as stored, the
    # approvals it has and the hash they approved; a publish chosen for later.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    submitted_by: Mapped[str | None] = mapped_column(String(254))
    approvals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    published_by: Mapped[str | None] = mapped_column(String(254))
    publish_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    publish_move: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    publish_by: Mapped[str | None] = mapped_column(String(254))


class VersionEventRow(Base):
    """A version's history: submit, approve, request changes, comment, publish, pause, retire.

    Append-only. `once` is set only where one row per key may exist (one approval per reviewer
    and version), so a unique index refuses a repeat even when two requests race.
    """

    __tablename__ = "version_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("journey_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    anchor: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    once: Mapped[str | None] = mapped_column(String(300), unique=True)


class TemplateRow(Base):
    """A template variant of a version, indexed for rendering and review."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("version_id", "key", "locale", "tone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("journey_versions.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    tone: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)


class DebtorRow(Base):
    """A person (or business) owing one or more cases: the host's customer, with contact data.

    Contact data, consent and preferences live here, so a change reaches every case of the
    debtor (engine/intake/debtors.py); each case keeps a copy of the contact columns, which the
    runtime reads and owns while it advances the case.
    """

    __tablename__ = "debtors"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    # {"consent": {channel: bool}, "opted_out": [channel, ...]}, as a case's contact_prefs.
    contact_prefs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # Merged into another debtor by the host (engine/intake/debtor_merge.py): the cases moved
    # there, and this row stays so its customer id still leads to the debtor that stays.
    merged_into_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("debtors.id", name="fk_debtors_merged_into_id"),
    )
    merged_at: Mapped[datetime | None] = mapped_column(DateTime)


class CaseRow(Base):
    """A debt being dunned: who, how much, and where in which journey version it stands."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_due", "status", "due_at"),
        # The designer's case list sorts (migration 0016_case_list): each ends with the id.
        Index("ix_cases_list_due", "due_date", "id"),
        Index("ix_cases_list_amount", "amount_open", "id"),
        Index("ix_cases_list_step", "node_id", "id"),
        Index("ix_cases_list_status", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("journey_versions.id"), index=True)
    # The person owing this debt; None: the case is its own debtor (as before debtors existed).
    debtor_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("debtors.id"), index=True
    )
    node_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    outcome: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    timer_at: Mapped[datetime | None] = mapped_column(DateTime)
    debtor_name: Mapped[str] = mapped_column(String(200))
    debtor_type: Mapped[str] = mapped_column(String(16), default="consumer")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount_original: Mapped[Decimal] = mapped_column(Money)
    amount_open: Mapped[Decimal] = mapped_column(Money)
    due_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    arms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_prefs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hold_reason: Mapped[str | None] = mapped_column(String(32))
    promise_date: Mapped[date | None] = mapped_column(Date)
    promise_amount: Mapped[Decimal | None] = mapped_column(Money)
    promise_baseline: Mapped[Decimal | None] = mapped_column(Money)
    messages_sent: Mapped[int] = mapped_column(Integer, default=0)
    payments_count: Mapped[int] = mapped_column(Integer, default=0)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    # The generation of the case's portal links (engine.access.portal_links): raising it
    # refuses every link sent before.
    portal_link_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A journey's counters (`count` steps: name -> count) and the payment history conditions
    # read (last_paid_on, last_failure_reason, failed_payments); NULL on rows from before them.
    counters: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    payment_history: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    # Fees and interest open and booked (engine/money/balance.py); NULL reads as none.
    charges: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    # The last day of the case's hold, when the event that started it named one: the hold
    # is released on that day in the case's time zone (engine/intake/hold_until.py).
    hold_until: Mapped[date | None] = mapped_column(Date, index=True)


class EventRow(Base):
    """Something that happened to a case; stored once per event id, applied on the next tick."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_pending", "case_id", "applied_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)


# Outbox statuses of a message handed to a channel: each is a contact with the debtor, so the
# contact-policy guard's history (minimum gaps, caps) and anything else that counts contacts
# reads this one set. 'sending' is claimed and maybe with the provider already (a dispatcher that
# crashed before writing the answer leaves it so); 'sandboxed' is a sandbox's hand-over
# (simulations, installations without delivery settings). How a sent message fared later is
# `delivery_status`, not a status.
CONTACT_STATUSES = ("sending", "sent", "sandboxed")


class OutboxRow(Base):
    """A message (or host notification) to deliver; written in the same transaction as the step."""

    __tablename__ = "outbox"
    # (status, not_before, id): a claim reads its due rows in order and stops (0015_scale).
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before", "id"),
        # The guard's history of a person: their cases' messages by status and time (0018_debtors).
        Index("ix_outbox_person", "case_id", "status", "sent_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    tone: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str | None] = mapped_column(String(32))
    fallback_channel: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    segments: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The carrier row whose combined message carried this row's content (0024_consolidation).
    combined_into: Mapped[int | None] = mapped_column(BigId, index=True)


class AuditRow(Base):
    """Append-only evidence: every transition, message, suppression and decision."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    version_id: Mapped[int | None] = mapped_column(Integer)
    node_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    rule: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The tamper-evident chain (engine/storage/audit_chain.py); empty on rows written before it.
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class UserRow(Base):
    """A person who signs in to the designer."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Part of every session cookie of this user; signing out replaces it, ending those sessions.
    session_token: Mapped[str | None] = mapped_column(String(32), default=None)


class PortalFactorFailureRow(Base):
    """A wrong (or not yet checked) answer to the portal's second factor, counted against a
    hashed case or client address (engine.access.portal_factor)."""

    __tablename__ = "portal_factor_failures"
    __table_args__ = (
        Index("ix_portal_factor_failures_key_at", "key", "at"),
        Index("ix_portal_factor_failures_at", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # sha256 of scope and value
    at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailureRow(Base):
    """A failed sign-in, counted against a hashed account or client address (access.throttle)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key_at", "key", "at"),
        Index("ix_login_failures_at", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # sha256 of scope and value
    at: Mapped[datetime] = mapped_column(DateTime)


class JobRow(Base):
    """A designer background job (simulation, case import): progress and result for any worker."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_kind_status", "kind", "status"),)
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class UploadRow(Base):
    """A file uploaded to the case-import wizard, as CSV text, until it is imported or pruned."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    header: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ImportMappingRow(Base):
    """The column mapping and journey a user last chose for a header signature (sha256 of its
    names). `user_id` None: a mapping remembered before they were per user (migration 0007),
    offered to everyone under their own and never written again."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("user_id", "signature"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(64), index=True)
    columns: Mapped[dict[str, Any]] = mapped_column(JSON)
    journey: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PaymentIntentRow(Base):
    """One attempt to take a case's money at a provider; written before the provider is asked.

    The idempotency key is unique and stored first, so a retry after a timeout or a crash asks
    the provider for the same payment again instead of a second one (engine.payments.checkout).
    """

    __tablename__ = "payment_intents"
    __table_args__ = (
        Index("ix_payment_intents_case", "case_id", "state"),
        UniqueConstraint("provider", "provider_payment_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    provider: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    attempt: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(200))
    redirect_url: Mapped[str | None] = mapped_column(Text)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # new (written, provider not yet answered), open, pending, paid, failed, canceled,
    # refunded, charged_back (connectors.payment.PaymentState).
    state: Mapped[str] = mapped_column(String(16))
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ProviderEventRow(Base):
    """A verified provider webhook, stored once per (provider, event id), processed later."""

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_provider_events_pending", "processed_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the raw body as received (utf-8, else escaped)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What processing made of it: recorded:<event type>, pending, refused:<reason>, ...
    outcome: Mapped[str | None] = mapped_column(String(200))
    tries: Mapped[int] = mapped_column(Integer, default=0)


class PaymentPlanRow(Base):
    """An instalment plan a debtor (portal) or a person (case page) agreed for a case.

    `key` is unique and made from the form's one-time value, so a double submit stores one
    plan; at most one plan per case is active (the partial unique index). status: active,
    completed (every instalment paid), ended (the case closed otherwise).
    """

    __tablename__ = "payment_plans"
    __table_args__ = (
        Index(
            "ux_payment_plans_active",
            "case_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(16))
    grace_days: Mapped[int] = mapped_column(Integer)
    agreed_by: Mapped[str] = mapped_column(String(254))  # "portal" or the person's address
    agreed_at: Mapped[datetime] = mapped_column(DateTime)
    # A SEPA mandate, when the journey's provider takes debits: never the whole IBAN.
    provider: Mapped[str | None] = mapped_column(String(32))
    account_holder: Mapped[str | None] = mapped_column(String(70))
    iban_masked: Mapped[str | None] = mapped_column(String(40))
    mandate_reference: Mapped[str | None] = mapped_column(String(35))
    # At a provider that keeps the mandate and collects on its own schedule (GoCardless).
    provider_mandate: Mapped[str | None] = mapped_column(String(64))
    provider_schedule: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)


class PlanInstalmentRow(Base):
    """One instalment of a plan: due date, amount, and open, paid or missed."""

    __tablename__ = "plan_instalments"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq"),
        Index("ix_plan_instalments_due", "status", "due_date"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"))
    seq: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, paid, missed
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    missed_at: Mapped[datetime | None] = mapped_column(DateTime)


# Statement reconciliation looks cases up by the invoice reference a payer wrote
# (engine.payments.reconcile); without an index each statement line scans the cases table.
Index("ix_cases_reference", CaseRow.reference)


class StatementImportRow(Base):
    """A bank statement file someone (or the inbox watcher) read: who, when, which file."""

    __tablename__ = "statement_imports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(24))
    imported_by: Mapped[str] = mapped_column(String(254))
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_new: Mapped[int] = mapped_column(Integer, default=0)  # the rest were booked before


class StatementLineRow(Base):
    """One statement line, stored once per stable line id, with what it was matched to.

    `status`: matched (by a rule), assigned (by a person), unmatched (waits for a person, see
    `reason`), dismissed (a person said it is not a case's payment), ignored (a debit, a
    reversal: not a debtor's payment). `event_id` is the payment_received event it recorded.
    """

    __tablename__ = "statement_lines"
    __table_args__ = (Index("ix_statement_lines_status", "status", "import_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), unique=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("statement_imports.id"), index=True)
    place: Mapped[str] = mapped_column(String(40))  # "Ntry 3", "line 14"
    account: Mapped[str] = mapped_column(String(64))
    statement_id: Mapped[str] = mapped_column(String(100))
    entry_ref: Mapped[str] = mapped_column(String(100))
    booking_date: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credit: Mapped[bool] = mapped_column(Boolean)
    reference: Mapped[str | None] = mapped_column(String(140))
    remittance: Mapped[str] = mapped_column(Text)
    debtor_name: Mapped[str | None] = mapped_column(String(200))
    debtor_iban: Mapped[str | None] = mapped_column(String(34))
    status: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(16))  # rf, external_id, reference, manual
    reason: Mapped[str | None] = mapped_column(String(32))  # why unmatched or ignored
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    amount_note: Mapped[str | None] = mapped_column(String(16))  # full, partial, overpayment
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


# -- analytics (engine/analytics): facts the engine keeps as it runs, read by the numbers pages --


class CaseFactRow(Base):
    """A case's outcome facts, written by the engine in the step's own transaction.

    Amounts in the case currency's minor units; costs in ten-thousandths of the delivery
    settings' currency (the outbox's precision). docs/analytics.md says how each is counted.
    """

    __tablename__ = "case_facts"
    __table_args__ = (Index("ix_case_facts_journey_entered", "journey_id", "entered_at"),)
    case_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    journey_id: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[int] = mapped_column(Integer)  # the version the case entered
    currency: Mapped[str] = mapped_column(String(3))
    original_minor: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    collected_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    payments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    paid_full_at: Mapped[datetime | None] = mapped_column(DateTime)
    days_to_pay: Mapped[int | None] = mapped_column(Integer)  # due date -> paid in full
    messages_email: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    messages_sms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    messages_letter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_email: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_sms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_letter: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    disputes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    opt_outs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    complaints: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ExposureRow(Base):
    """A case's first exposure to an experiment: the split node, the arm, when it entered."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (
        UniqueConstraint("case_id", "experiment"),
        Index("ix_exposures_experiment_arm", "journey_id", "experiment", "arm"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    journey_id: Mapped[int] = mapped_column(Integer)
    experiment: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(64))
    exposed_at: Mapped[datetime] = mapped_column(DateTime)


class StepCountRow(Base):
    """Cases that entered a step, left it by a port, closed or stopped there, per day.

    Counted per journey and node id (a node keeps its id across versions, which is how a
    publish moves cases). kind 'paid': cases that left by this port and later paid in full,
    on the day they left. Pre-aggregated so the canvas numbers never scan the cases.
    """

    __tablename__ = "step_counts"
    __table_args__ = (UniqueConstraint("journey_id", "day", "node_id", "kind", "port"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    node_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    port: Mapped[str] = mapped_column(String(64), default="")
    cases: Mapped[int] = mapped_column(BigInteger, default=0)


class CohortCountRow(Base):
    """The dashboard's counters per journey, entry day and currency, kept as the facts change.

    metric: cases, original, collected, paid_any, cured (bucket: days from entering to full
    payment), days_to_pay (bucket: days from due date), messages_/cost_<channel>, guardrails.
    A dashboard for any period sums a few thousand rows instead of scanning every case.
    """

    __tablename__ = "cohort_counts"
    __table_args__ = (UniqueConstraint("journey_id", "day", "currency", "metric", "bucket"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    metric: Mapped[str] = mapped_column(String(24))
    bucket: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ArmCountRow(Base):
    """Counters per experiment arm and exposure day, kept as the exposed cases' facts change.

    metric: cases, original, collected, collected_sq (sum of each case's collected squared, for
    the variance per case), paid_any, paid_full (bucket: days from exposure to full payment),
    messages, cost, guardrails. The experiment page reads a few hundred rows, not every case.
    """

    __tablename__ = "arm_counts"
    __table_args__ = (
        UniqueConstraint("journey_id", "experiment", "arm", "day", "currency", "metric", "bucket"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    experiment: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    metric: Mapped[str] = mapped_column(String(24))
    bucket: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class TaskRow(Base):
    """Work for a person made by a journey's task step: call the debtor, check, approve.

    One per case, step and visit (the unique key): the task drain creates it from the step's
    outbox row in the transaction that marks that row done, so a crash or a second drain never
    makes a second one. status: open, claimed, done; `outcome` is the port the case left by.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "node_id", "visit"),
        Index("ix_tasks_inbox", "status", "queue", "due_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    visit: Mapped[int] = mapped_column(Integer)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[str | None] = mapped_column(String(200))


class CaseDocumentRow(Base):
    """A file the host attached to a case (the invoice PDF), stored once per case and kind.

    Replacing it overwrites the row (the unique key keeps one); the audit row `document_stored`
    keeps each version's size and SHA-256, so what a message carried can be shown later.
    """

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(DateTime)


class PaymentAllocationRow(Base):
    """One case of a checkout that pays several: written with the intent, before the provider
    is asked (`planned_minor`, what the debtor saw), and booked once when the provider confirms
    the money (`booked_minor`, what the case got then: engine/payments/allocations.py)."""

    __tablename__ = "payment_allocations"
    __table_args__ = (UniqueConstraint("intent_id", "case_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the order the money goes: oldest first
    planned_minor: Mapped[int] = mapped_column(BigInteger)
    booked_minor: Mapped[int | None] = mapped_column(BigInteger)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime)


class DebtorCreditRow(Base):
    """Money a debtor paid beyond what their cases owed: kept, never dropped, once per payment
    (unique intent or payment event), until staff pay it back (no automatic refund)."""

    __tablename__ = "debtor_credits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("debtors.id"), index=True
    )
    # The payment it came from: a portal checkout's intent, or one case's payment event.
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"))
    event_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # kept, charged_back, paid_back or set_off (engine/payments/credits.py settle_credit).
    state: Mapped[str] = mapped_column(String(16), default="kept")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # How staff settled it: the amount paid back or set off (a set-off takes at most what the
    # case owes; the rest is a new kept row naming this one in `rest_of_id`), the day, who.
    settled_minor: Mapped[int | None] = mapped_column(BigInteger)
    settled_on: Mapped[date | None] = mapped_column(Date)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_by: Mapped[str | None] = mapped_column(String(254))
    settled_by_user_id: Mapped[int | None] = mapped_column(Integer)
    set_off_case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"))
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    rest_of_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("debtor_credits.id"), unique=True
    )
