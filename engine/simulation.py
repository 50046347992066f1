"""Simulation: the real engine on a virtual clock over a synthetic portfolio.

Response model (deliberately simple, and the same for every journey, so results compare):
- after each message sent, the debtor pays with probability RESPOND[channel] * TONE[tone];
  a payer pays in full with probability 0.8, else half of what is open, 1 to 5 days later
  (in full: with the fees and interest owed on the day of payment, engine/money/);
- after each message, with probability 0.03 the debtor promises to pay in 7 days, and keeps
  the promise with probability 0.6 (paying in full on the promised day);
- after each message, with probability 0.005 the debtor disputes the claim.
`collected` counts principal, fees and interest paid (`collected_fees`, `collected_interest`).
- tasks for people (a `task` step): agents work at most `agents` tasks per queue per day, oldest
  due first (the rest wait for the next day, and time out when their due date passes first);
  each worked task's outcome is drawn from TASK_OUTCOMES (or the shares given), a promise taken
  on a call is kept with probability PROMISE_KEPT like any other.
Random draws come from one seeded generator in message order, so a seed gives one result.

The portfolio (`synthetic_cases`):
- pre-due steps: a journey with a wait relative to the due date before it (D-5) gets cases
  whose due date lies ahead, by the earliest such step plus a spread of 0 to 6 days, so a D-5
  step fires five days before each case's due date, not on day one; other journeys' cases are
  already due (0 to 2 days overdue), as before;
- consent: a share of debtors per channel has given explicit consent (CONSENT, or the
  `consent` argument), so channels that need it (SMS in the US) show sends and suppressions
  side by side instead of being suppressed throughout.
These draws come from a generator of their own, so the response draws stay as they were.
Messages go through the real dispatcher with sandbox connectors, so the contact-policy guard's
deferrals and suppressions show as they would live. What would go wrong live shows too:
`errors` counts the cases the engine stopped, by error, and `failed` the messages that could
not be sent (a template that fails to render, a dead letter), by reason.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from engine.authoring.versions import save_version
from engine.core.clock import as_utc
from engine.core.jurisdictions import FALLBACK, NONE, jurisdiction, jurisdiction_of
from engine.delivery.sandbox import SandboxDispatcher
from engine.experiments.from_simulation import split_outcomes
from engine.intake.cases import case_values
from engine.intake.debtors import resolve_debtors
from engine.intake.events import record_event
from engine.intake.tasks import list_tasks, record_task_outcome
from engine.money.balance import amount
from engine.money.cases import case_owed
from engine.run.runtime import Runtime
from engine.storage.db import Database
from engine.storage.models import AuditRow, CaseRow, OutboxRow, TaskRow

RESPOND = {"email": 0.06, "sms": 0.08, "letter": 0.10, "whatsapp": 0.08, "webhook": 0.0}
TONE = {1: 1.0, 2: 1.1, 3: 1.2, 4: 1.3}
PROMISE, PROMISE_KEPT, DISPUTE = 0.03, 0.6, 0.005
# Audit kinds that are problems: which count of the result they go to, and the detail to show.
PROBLEMS = {
    "error": ("errors", "error"),
    "message_failed": ("failed", "reason"),
    "dead_letter": ("failed", "reason"),
}
COUNTED = ("message", "suppression", *PROBLEMS)
# A scheduled payment's mark: pay the fees and interest owed on the day it arrives too.
WITH_CHARGES = "_with_charges"
# Simulated agents: tasks worked per queue per day, and what comes of a worked task.
AGENT_CAPACITY = 20
TASK_OUTCOMES = {"done": 0.25, "not_reached": 0.45, "promise_taken": 0.2, "escalate": 0.1}
AGENT = "simulated agent"
# Share of debtors who gave explicit consent per channel (where a jurisdiction requires it).
CONSENT = {"sms": 0.6, "whatsapp": 0.4}
PRE_DUE_SPREAD = 6  # days: pre-due cases fall due this much later than the earliest step, at most
DEFAULT_START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday


@dataclass
class SimulationResult:
    """Per-day and total figures of one simulation run."""

    cases: int
    days: int
    seed: int
    messages: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    end_nodes: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # cases the engine stopped, by error
    failed: Counter[str] = field(default_factory=Counter)  # messages not sent, by reason
    collected: Decimal = Decimal("0.00")  # principal, fees and interest paid
    collected_fees: Decimal = Decimal("0.00")  # of which fees
    collected_interest: Decimal = Decimal("0.00")  # of which interest
    open: int = 0
    per_day: list[dict[str, Any]] = field(default_factory=list)
    # Per split node, its arms' outcomes (engine.experiments.outcomes.ExperimentOutcomes JSON):
    # the experiment page of the simulation reads them.
    experiments: list[dict[str, Any]] = field(default_factory=list)
    # Tasks for people: created, worked, each outcome recorded, and still waiting at the end.
    tasks: Counter[str] = field(default_factory=Counter)
    # The portfolio: days before the due date the cases start (0: already due), and the
    # debtors with consent on record per channel.
    pre_due_days: int = 0
    consented: Counter[str] = field(default_factory=Counter)

    @property
    def render_errors(self) -> list[str]:
        """Why messages were not sent (e.g. a template over its render budget), each reason once,
        in the order first seen: the API's short list, read from `failed`."""
        return list(self.failed)[:10]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON (keys sorted within each count; render_errors only when any)."""
        errors = {"render_errors": self.render_errors} if self.render_errors else {}
        tasks = {"tasks": dict(sorted(self.tasks.items()))} if self.tasks else {}
        return {
            **errors,
            **tasks,
            "cases": self.cases,
            "days": self.days,
            "seed": self.seed,
            "messages": dict(sorted(self.messages.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "end_nodes": dict(sorted(self.end_nodes.items())),
            "suppressed": dict(sorted(self.suppressed.items())),
            "errors": dict(sorted(self.errors.items())),
            "failed": dict(sorted(self.failed.items())),
            "collected": str(self.collected),
            **self._charges_json(),
            "open": self.open,
            "per_day": self.per_day,
            "experiments": self.experiments,
            "pre_due_days": self.pre_due_days,
            "consented": dict(sorted(self.consented.items())),
        }

    def _charges_json(self) -> dict[str, str]:
        """Fees and interest collected, only for a journey that charges them."""
        if not self.collected_fees and not self.collected_interest:
            return {}
        return {
            "collected_fees": str(self.collected_fees),
            "collected_interest": str(self.collected_interest),
        }


# Believable debtors per country (issue 16, point 15): names, streets, postcodes and cities of
# the debtor's country, and a phone number in its format. Picked by the case's number, not
# drawn, so the random sequence (and every pinned simulation result) stays as it was.
PEOPLE = {
    "DE": (
        ("Anna Schneider", "Jonas Weber", "Lena Fischer", "Paul Wagner", "Mia Becker"),
        (
            ("Hauptstraße", "80331", "München"),
            ("Bahnhofstraße", "50667", "Köln"),
            ("Lindenallee", "20095", "Hamburg"),
            ("Gartenweg", "70173", "Stuttgart"),
            ("Schillerstraße", "10117", "Berlin"),
        ),
        "+49151{:08d}",
    ),
    "US": (
        ("Emily Johnson", "Michael Smith", "Sarah Davis", "David Miller", "Jessica Brown"),
        (
            ("Oak Street", "94103", "San Francisco"),
            ("Maple Avenue", "10001", "New York"),
            ("Main Street", "75201", "Dallas"),
            ("Pine Road", "60601", "Chicago"),
            ("Elm Street", "02108", "Boston"),
        ),
        "+1212555{:04d}",
    ),
    "GB": (
        ("Oliver Smith", "Amelia Jones", "Harry Taylor", "Isla Brown", "George Wilson"),
        (
            ("High Street", "M1 1AE", "Manchester"),
            ("Station Road", "B1 1BB", "Birmingham"),
            ("Church Lane", "LS1 1UR", "Leeds"),
            ("Victoria Road", "BS1 4DJ", "Bristol"),
            ("King Street", "EC2V 7HH", "London"),
        ),
        "+447700{:06d}",
    ),
}
# What a string attribute holds in the synthetic portfolio: an attribute naming a creditor
# gets company names (a US validation notice reads "a debt that you owe to ..."), others tiers.
CREDITORS = ("Northwind Telecom", "Contoso Energy")
TIERS = ("standard", "premium")


def pre_due_days(doc: dict[str, Any]) -> int:
    """How many days before the due date the journey's earliest step is (D-5: 5), else 0."""
    found = [
        -int(n.get("params", {}).get("days") or 0)
        for n in doc.get("nodes", [])
        if n.get("type") in ("wait", "wait_event")
        and n.get("params", {}).get("mode") == "due_date"
        and isinstance(n.get("params", {}).get("days"), int | float)
    ]
    return max([0, *found])


def synthetic_cases(
    doc: dict[str, Any],
    n: int,
    rng: random.Random,
    start: date,
    consent: dict[str, float] | None = None,
    extra: random.Random | None = None,
) -> list[dict]:
    """A portfolio that looks like the journey's market: country, currency, contact mix.

    The market is the journey's jurisdiction's country (the fallback's for a journey bound to
    none), with debtors spread over that country's regions and their time zones. Due dates
    lie ahead for a journey with pre-due steps; consent per channel is drawn by `consent`
    share, both from `extra` (a generator of their own, so `rng`'s sequence is unchanged).
    """
    extra = extra or random.Random(0)
    shares = CONSENT if consent is None else consent
    lead = pre_due_days(doc)
    bound = jurisdiction_of(doc.get("jurisdiction", NONE)) or jurisdiction(FALLBACK)
    country = bound.country
    attributes = {a["name"]: a["type"] for a in doc.get("attributes", [])}
    names, streets, phone = PEOPLE.get(country.code, PEOPLE["DE"])
    cases = []
    for i in range(n):
        street, postcode, city = streets[i % len(streets)]
        subdivision = rng.choice(country.subdivisions)
        amount = Decimal(str(round(min(rng.lognormvariate(4.6, 0.8), 20000), 2)))
        cases.append(
            {
                "external_id": f"SIM-{i + 1:06d}",
                "debtor_name": names[i % len(names)],
                "debtor_type": "business" if rng.random() < 0.1 else "consumer",
                "email": f"debtor{i + 1}@example.org" if rng.random() < 0.9 else None,
                "phone": phone.format(i % 10_000) if rng.random() < 0.7 else None,
                "street": f"{street} {i % 200 + 1}" if rng.random() < 0.95 else None,
                "postcode": postcode,
                "city": city,
                "country": country.code,
                "subdivision": subdivision,
                "locale": doc.get("locale") or country.locale,
                "timezone": country.zone(subdivision),
                "currency": doc.get("currency", "EUR"),
                "amount": amount,
                "due_date": start - timedelta(days=rng.randint(0, 2)),
                "reference": f"INV-{100000 + i}",
                "attributes": {k: _attribute(k, t, rng) for k, t in attributes.items()},
            }
        )
    for case in cases:  # after the others, so their draws are the same with or without these
        if lead:
            case["due_date"] = start + timedelta(days=lead + extra.randint(0, PRE_DUE_SPREAD))
        given = {ch: True for ch, share in sorted(shares.items()) if extra.random() < share}
        if given:
            case["contact_prefs"] = {"consent": given}
    return cases


def debtor_spread(n: int, mean: float, rng: random.Random) -> list[int]:
    """Each of `n` cases' debtor number (1, 2, ...), in runs of 1 + a geometric count.

    The mean run is `mean` cases; most debtors have one to three invoices, a few many (the
    long tail of a telco's or utility's book). `mean` 1 gives every case its own debtor.
    """
    stop = 1 / max(mean, 1.0)  # the chance a debtor has no further case
    owners: list[int] = []
    debtor = 0
    while len(owners) < n:
        debtor += 1
        owners.append(debtor)
        while len(owners) < n and rng.random() >= stop:
            owners.append(debtor)
    return owners


# What a debtor's cases share: the person's name, contact data, region and language.
PERSON_FIELDS = (
    "debtor_name",
    "debtor_type",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "subdivision",
    "locale",
    "timezone",
)


def with_debtors(cases: list[dict[str, Any]], mean: float, rng: random.Random) -> None:
    """Give the cases debtors, `mean` invoices each on average (`debtor_spread`).

    Each case names its debtor's customer id (`debtor_id`) and carries the person's data from
    their first case, as a host's export does. Draws from its own `rng`, so the cases' amounts
    and contact mix stay those of a portfolio without debtors.
    """
    head: dict[str, Any] = {}
    last = 0
    for case, owner in zip(cases, debtor_spread(len(cases), mean, rng), strict=True):
        case["debtor_id"] = f"CUST-{owner:06d}"
        if owner != last:
            head, last = case, owner
            continue
        for name in PERSON_FIELDS:
            case[name] = head[name]


def _attribute(name: str, kind: str, rng: random.Random) -> Any:
    if kind == "number":
        return rng.randint(0, 100)
    if kind == "boolean":
        return rng.random() < 0.3
    return rng.choice(CREDITORS if "creditor" in name else TIERS)  # two either way: same draws


def simulate(
    doc: dict[str, Any],
    cases: int = 1000,
    days: int = 60,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    step_hours: int = 1,
    progress: Callable[[int, int], None] | None = None,
    db: Database | None = None,
    cases_per_debtor: float = 0,
    agents: int = AGENT_CAPACITY,
    task_outcomes: dict[str, float] | None = None,
    consent: dict[str, float] | None = None,
) -> SimulationResult:
    """Run `cases` synthetic cases through a journey document for `days` days.

    `db`: run in this (empty) database and leave it open, e.g. to read the analytics facts
    afterwards; by default an in-memory one, thrown away. `cases_per_debtor` (>= 1): the cases
    belong to debtors with that many invoices on average, so the contact policy counts each
    person's messages together (0: every case its own person, as the pinned results assume).
    `agents`: tasks worked per queue per day; `task_outcomes`: the share of each outcome among
    worked tasks (TASK_OUTCOMES). `consent`: the share of debtors with explicit consent per
    channel (default CONSENT).
    """
    shares = check_task_outcomes(task_outcomes)
    if not 0 <= agents <= 100_000:
        raise ValueError("agents: give 0 to 100000 tasks per queue per day.")
    for channel, share in (consent or {}).items():
        if not 0 <= share <= 1:
            raise ValueError(f"consent share for {channel!r} must be between 0 and 1")
    rng = random.Random(seed)
    keep = db is not None
    if db is None:
        db = Database("sqlite:///:memory:")
    db.create_all()
    now = as_utc(start)
    with db.transaction() as session:
        version = save_version(session, doc, now, status="simulation")
        version_id = version.id
        portfolio = synthetic_cases(
            doc, cases, rng, now.date(), consent, random.Random(f"portfolio-{seed}")
        )
        if cases_per_debtor:
            with_debtors(portfolio, cases_per_debtor, random.Random(seed + 17))
            resolve_debtors(session, portfolio, now, "simulation")
        rows = [case_values(c, version, now) for c in portfolio]
        session.execute(insert(CaseRow), rows)
    result = SimulationResult(cases=cases, days=days, seed=seed, pre_due_days=pre_due_days(doc))
    for case in portfolio:
        result.consented.update((case.get("contact_prefs") or {}).get("consent", {}).keys())
    runtime = Runtime(db)
    dispatcher = SandboxDispatcher(db, workers=1)
    scheduled: dict[datetime, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    seen_outbox, seen_hooks, event_no = 0, 0, 0
    agent = _Agents(agents, shares)
    for day in range(days):
        today = Counter[str]()
        agent.worked.clear()  # a new day: every queue's capacity again
        for hour in range(0, 24, step_hours):
            moment = now + timedelta(days=day, hours=hour)
            due = [t for t in scheduled if t <= moment]
            if due:
                with db.transaction() as session:
                    for t in sorted(due):
                        for ext_id, kind, payload in scheduled.pop(t):
                            event_no += 1
                            payload = _with_charges(session, ext_id, payload, t)
                            record_event(session, ext_id, f"sim-{event_no}", kind, payload, t)
            report = runtime.tick(moment)
            dispatcher.dispatch(moment)
            today["closed"] += report.closed
            seen_outbox = _respond(db, seen_outbox, moment, rng, scheduled, result, today)
            seen_hooks = _count_webhooks(db, seen_hooks, result, today)
            agent.work(db, moment, rng, scheduled, result, today)
        _close_day(db, result, day, today)
        if progress:
            progress(day + 1, days)
    _finish(db, result)
    with db.transaction() as session:
        end = now + timedelta(days=days)
        found = split_outcomes(session, doc, version_id, end)
        result.experiments = [e.to_json() for e in found]
    if not keep:
        db.dispose()
    return result


def check_task_outcomes(shares: dict[str, float] | None) -> dict[str, float]:
    """The outcome shares of worked tasks: known outcomes, 0..1 each, adding up to 1."""
    if shares is None:
        return dict(TASK_OUTCOMES)
    unknown = sorted(set(shares) - set(TASK_OUTCOMES))
    if unknown:
        known = ", ".join(TASK_OUTCOMES)
        raise ValueError(f"task_outcomes: unknown outcome {unknown[0]!r}; known: {known}.")
    if any(not 0 <= float(v) <= 1 for v in shares.values()):
        raise ValueError("task_outcomes: each share lies between 0 and 1.")
    if abs(sum(float(v) for v in shares.values()) - 1) > 1e-6:
        raise ValueError("task_outcomes: the shares add up to 1.")
    return {k: float(shares.get(k, 0.0)) for k in TASK_OUTCOMES}


@dataclass
class _Agents:
    """Simulated agents: work open tasks, oldest due first, up to a capacity per queue per day."""

    capacity: int
    shares: dict[str, float]
    worked: Counter[str] = field(default_factory=Counter)
    seen: int = 0  # the last task id counted as created

    def work(
        self,
        db: Database,
        moment: datetime,
        rng: random.Random,
        scheduled: dict[datetime, list[tuple[str, str, dict[str, Any]]]],
        result: SimulationResult,
        today: Counter[str],
    ) -> None:
        with db.transaction() as session:
            new = session.scalar(select(func.max(TaskRow.id)).where(TaskRow.id > self.seen))
            if new is None:
                if not self.seen:
                    return  # a journey without task steps: no draws, results as before
            else:
                created = int(
                    session.scalar(
                        select(func.count()).select_from(TaskRow).where(TaskRow.id > self.seen)
                    )
                    or 0
                )
                result.tasks["created"] += created
                today["tasks:created"] += created
                self.seen = new
            for task in list_tasks(session, moment, limit=1000):
                if self.worked[task.queue] >= self.capacity:
                    continue
                self.worked[task.queue] += 1
                outcome = self._draw(task.outcomes, rng)
                promised = (
                    (moment + timedelta(days=7)).date() if outcome == "promise_taken" else None
                )
                record_task_outcome(session, task.id, outcome, AGENT, moment, promised=promised)
                result.tasks["worked"] += 1
                result.tasks[outcome] += 1
                today["tasks:worked"] += 1
                if promised is not None and rng.random() < PROMISE_KEPT:
                    scheduled[moment + timedelta(days=7)].append(
                        (
                            task.case_external_id,
                            "payment_received",
                            {"amount": str(task.amount_open), "currency": task.currency},
                        )
                    )

    def _draw(self, allowed: tuple[str, ...], rng: random.Random) -> str:
        """An outcome by its share among the ones this task's kind allows."""
        weights = [self.shares[o] for o in allowed]
        total = sum(weights)
        if total <= 0:
            return allowed[0]
        point, upto = rng.random() * total, 0.0
        for outcome, weight in zip(allowed, weights, strict=True):
            upto += weight
            if point < upto:
                return outcome
        return allowed[-1]


def _count_webhooks(db: Database, seen: int, result: SimulationResult, today: Counter[str]) -> int:
    """Count the host notifications queued since outbox id `seen` (a webhook step tells the
    host system; the sandbox dispatches only messages to debtors, so no audit says it)."""
    with db.transaction() as session:
        ids = session.scalars(
            select(OutboxRow.id).where(OutboxRow.id > seen, OutboxRow.channel == "webhook")
        ).all()
    if not ids:
        return seen
    result.messages["webhook"] += len(ids)
    today["message:webhook"] += len(ids)
    return max(ids)


def _respond(
    db: Database,
    seen: int,
    moment: datetime,
    rng: random.Random,
    scheduled: dict[datetime, list[tuple[str, str, dict[str, Any]]]],
    result: SimulationResult,
    today: Counter[str],
) -> int:
    """Count messages sent and sends suppressed (from the audit trail); draw each response."""
    with db.transaction() as session:
        audits = session.execute(
            select(AuditRow.id, AuditRow.kind, AuditRow.detail)
            .where(AuditRow.id > seen, AuditRow.kind.in_(COUNTED))
            .order_by(AuditRow.id)
        ).all()
        sent_ids = [a.detail["outbox_id"] for a in audits if a.kind == "message"]
        sent = {
            row.id: row
            for row in session.execute(
                select(
                    OutboxRow.id,
                    OutboxRow.channel,
                    OutboxRow.tone,
                    CaseRow.external_id,
                    CaseRow.amount_open,
                    CaseRow.currency,
                )
                .join(CaseRow, CaseRow.id == OutboxRow.case_id)
                .where(OutboxRow.id.in_(sent_ids))
            )
        }
        last = session.scalar(select(func.max(AuditRow.id))) or seen
    for audit in audits:
        if audit.kind in PROBLEMS:
            counts, key = PROBLEMS[audit.kind]
            getattr(result, counts)[str(audit.detail.get(key) or audit.kind)[:300]] += 1
            continue
        if audit.kind == "suppression":
            reason = str(audit.detail.get("reason") or "unknown").split(":")[0]
            result.suppressed[reason] += 1
            today[f"suppressed:{reason}"] += 1
            continue
        row = sent[audit.detail["outbox_id"]]
        result.messages[row.channel] += 1
        today[f"message:{row.channel}"] += 1
        _draw_response(row, moment, rng, scheduled)
    return last


def _draw_response(
    row: Any,
    moment: datetime,
    rng: random.Random,
    scheduled: dict[datetime, list[tuple[str, str, dict[str, Any]]]],
) -> None:
    chance = RESPOND.get(row.channel, 0.0) * TONE.get(row.tone or 1, 1.0)
    draw = rng.random()
    if draw < chance:
        full = rng.random() < 0.8
        amount = row.amount_open if full else (row.amount_open / 2).quantize(Decimal("0.01"))
        when = moment + timedelta(days=rng.randint(1, 5))
        payload = {"amount": str(amount), "currency": row.currency}
        scheduled[when].append(
            (row.external_id, "payment_received", {**payload, WITH_CHARGES: full})
        )
    elif draw < chance + PROMISE:
        promised = (moment + timedelta(days=7)).date()
        scheduled[moment + timedelta(hours=2)].append(
            (row.external_id, "promise_to_pay", {"date": promised.isoformat()})
        )
        if rng.random() < PROMISE_KEPT:
            scheduled[moment + timedelta(days=7)].append(
                (
                    row.external_id,
                    "payment_received",
                    {
                        "amount": str(row.amount_open),
                        "currency": row.currency,
                        WITH_CHARGES: True,
                    },
                )
            )
    elif draw < chance + PROMISE + DISPUTE:
        scheduled[moment + timedelta(days=1)].append((row.external_id, "dispute_opened", {}))


def _with_charges(
    session: Any, external_id: str, payload: dict[str, Any], moment: datetime
) -> dict[str, Any]:
    """A full payment pays the fees and interest owed on its day too (they accrue until then)."""
    if not payload.get(WITH_CHARGES):
        return payload
    paid = {k: v for k, v in payload.items() if k != WITH_CHARGES}
    case = session.scalar(select(CaseRow).where(CaseRow.external_id == external_id))
    if case is not None:
        owed = case_owed(session, case, moment).owed
        extra = owed.fees + owed.interest
        paid["amount"] = str(Decimal(paid["amount"]) + extra)
    return paid


def _close_day(db: Database, result: SimulationResult, day: int, today: Counter[str]) -> None:
    with db.transaction() as session:
        open_ = (
            session.scalar(
                select(func.count()).select_from(CaseRow).where(CaseRow.status != "closed")
            )
            or 0
        )
    result.per_day.append(
        {
            "day": day + 1,
            "messages": {
                k.split(":", 1)[1]: v for k, v in sorted(today.items()) if k.startswith("message:")
            },
            "suppressed": {
                k.split(":", 1)[1]: v
                for k, v in sorted(today.items())
                if k.startswith("suppressed:")
            },
            "closed": today["closed"],
            "open": open_,
            **(
                {"tasks": {"created": today["tasks:created"], "worked": today["tasks:worked"]}}
                if today["tasks:created"] or today["tasks:worked"]
                else {}
            ),
        }
    )


def _finish(db: Database, result: SimulationResult) -> None:
    with db.transaction() as session:
        for outcome, node, status, count, paid in session.execute(
            select(
                CaseRow.outcome,
                CaseRow.node_id,
                CaseRow.status,
                func.count(),
                func.sum(CaseRow.amount_original - CaseRow.amount_open),
            ).group_by(CaseRow.outcome, CaseRow.node_id, CaseRow.status)
        ):
            if status == "closed":
                result.outcomes[outcome] += count
                result.end_nodes[node] += count
            else:
                result.open += count
                result.outcomes[f"open:{status}"] += count
            result.collected += Decimal(str(paid or 0)).quantize(Decimal("0.01"))
        for (charges,) in session.execute(
            select(CaseRow.charges).where(CaseRow.charges.is_not(None))
        ):
            result.collected_fees += amount(charges, "fees_charged") - amount(charges, "fees")
            result.collected_interest += amount(charges, "interest_charged") - amount(
                charges, "interest"
            )
        if result.tasks:  # tasks nobody recorded an outcome for, whether due or timed out
            waiting = select(func.count()).select_from(TaskRow).where(TaskRow.status != "done")
            result.tasks["not_worked"] = int(session.scalar(waiting) or 0)
    result.collected += result.collected_fees + result.collected_interest
    result.collected = result.collected.quantize(Decimal("0.01"))
