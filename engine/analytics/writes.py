"""Write a batch's facts: a few set-based statements in the caller's transaction.

Inserts go through engine.run.bulk (plain tuples on SQLite, `unnest` arrays on PostgreSQL).
Counters are added, never set, so two workers' batches add up: step counts by an upsert
(`ON CONFLICT ... DO UPDATE SET cases = cases + excluded.cases`, SQLite 3.24+ and PostgreSQL),
case facts by `UPDATE ... SET x = x + ?`. Rows are sorted by key, so concurrent batches lock
counter rows in the same order.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.analytics.facts import GUARDRAIL_COLUMNS, PAID, CaseChange, FactWrites
from engine.core.clock import naive_utc
from engine.run.bulk import insert_rows, sqlite_datetime
from engine.storage.db import in_chunks
from engine.storage.models import AuditRow, CaseFactRow, ExposureRow, VersionRow

FACTS = CaseFactRow.__table__
EXPOSURES = ExposureRow.__table__
AUDIT = AuditRow.__table__
CHANNELS = ("email", "sms", "letter")  # messages to the debtor (a webhook is not one)
# A fact row begins with these; its counters start at their server default, 0.
STARTED_COLUMNS = (
    "case_id",
    "journey_id",
    "version_id",
    "currency",
    "original_minor",
    "due_date",
    "entered_at",
)
ALL_COLUMNS = (
    *STARTED_COLUMNS,
    "collected_minor",
    "payments",
    *(f"messages_{c}" for c in CHANNELS),
    *(f"cost_{c}" for c in CHANNELS),
    "disputes",
    "opt_outs",
    "complaints",
    "bounces",
)
EXPOSURE_COLUMNS = ("case_id", "journey_id", "experiment", "node_id", "arm", "exposed_at")
_COUNT_KEY = ("journey_id", "day", "node_id", "kind", "port")
CohortKey = tuple[int, date, str, str, int]  # journey, entry day, currency, metric, bucket
# journey, experiment, arm, exposure day, currency, metric, bucket
ArmKey = tuple[int, str, str, date, str, str, int]
_JOURNEY_OF: dict[int, int] = {}  # version id -> journey id; a version never changes journey

_CHANGE_SET = (
    "collected_minor = collected_minor + {0}, payments = payments + {0}, "
    "first_paid_at = COALESCE(first_paid_at, {0}), last_paid_at = COALESCE({0}, last_paid_at), "
    "paid_full_at = COALESCE(paid_full_at, {0}), days_to_pay = COALESCE(days_to_pay, {0}), "
    "disputes = disputes + {0}, opt_outs = opt_outs + {0}, complaints = complaints + {0}, "
    "bounces = bounces + {0}"
)
_MESSAGE_SET = ", ".join(
    f"{k}_{c} = {k}_{c} + {{0}}" for k in ("messages", "cost") for c in CHANNELS
)


def journeys_of(connection: Connection, version_ids: Iterable[int]) -> dict[int, int]:
    """Each version's journey id (cached: one small query per unseen version)."""
    missing = {v for v in version_ids if v not in _JOURNEY_OF}
    if missing:
        rows = connection.execute(
            select(VersionRow.id, VersionRow.journey_id).where(VersionRow.id.in_(missing))
        )
        _JOURNEY_OF.update({vid: jid for vid, jid in rows})
    return _JOURNEY_OF


def write_facts(connection: Connection, facts: FactWrites, stamp: datetime) -> None:
    """Write a batch's facts; call after its audit rows (a payer's path is read from them)."""
    if not facts:
        return
    journeys = journeys_of(
        connection,
        {
            *(e[1] for e in facts.exposures),
            *(k[0] for k in facts.steps),
            *facts.paid_in_full.values(),
        },
    )
    cohorts: Counter[CohortKey] = Counter()
    if facts.started:
        cohorts.update(_start(connection, facts.started, naive_utc(stamp)))
    insert_rows(
        connection,
        EXPOSURES,
        EXPOSURE_COLUMNS,
        [(c, journeys[v], e, n, a, at) for c, v, e, n, a, at in facts.exposures if v in journeys],
    )
    day = naive_utc(stamp).date()
    counts: Counter[tuple[int, date, str, str, str]] = Counter()
    for (version_id, node_id, kind, port), n in facts.steps.items():
        if version_id in journeys:
            counts[journeys[version_id], day, node_id, kind, port] += n
    if facts.paid_in_full:
        counts.update(_paid_paths(connection, facts.paid_in_full, journeys))
    add_step_counts(connection, counts)
    new = {(e[0], e[2]) for e in facts.exposures}  # (case, experiment) exposed in this batch
    exposed = {case_id for case_id, _ in new}
    if facts.changes or exposed:
        states = _fact_states(connection, sorted(exposed | set(facts.changes)))
        arms: Counter[ArmKey] = Counter()
        if exposed:  # an arm counts its case's facts as they stand when it is exposed...
            for case_id, rows in _exposures_of(connection, sorted(exposed)).items():
                for exposure in rows:
                    if case_id in states and (case_id, exposure.experiment) in new:
                        arms.update(arm_counts_of(states[case_id], exposure))
        if facts.changes:  # ... and what happens to them afterwards
            cohorts.update(_change_cohorts(facts.changes, states))
            for case_id, rows in _exposures_of(connection, sorted(facts.changes)).items():
                if case_id in states:
                    arms.update(_arm_change(facts.changes[case_id], states[case_id], rows))
            _update_changes(connection, facts.changes)
        add_arm_counts(connection, arms)
    add_cohort_counts(connection, cohorts)


# Begin fact rows from case rows (amounts to minor units in SQL), and sum what began: the
# case ids travel as one parameter (a JSON array on SQLite, an array on PostgreSQL), so a
# batch of a thousand cases is two statements without a thousand bound parameters.
_START_SQL = (
    "INSERT INTO case_facts ({columns}) SELECT c.id, v.journey_id, c.version_id, c.currency, "
    "CAST(ROUND(c.amount_original * 100) AS BIGINT), c.due_date, {at} FROM cases c "
    "JOIN journey_versions v ON v.id = c.version_id WHERE c.id {ids}"
)
_BEGUN_SQL = (
    "SELECT journey_id, currency, COUNT(*), SUM(original_minor) FROM case_facts "
    "WHERE case_id {ids} GROUP BY journey_id, currency"
)
_IDS = {"sqlite": "IN (SELECT value FROM json_each(?))", "postgresql": "= ANY(%s::bigint[])"}


def _start(connection: Connection, case_ids: list[int], at: datetime) -> Counter[CohortKey]:
    """Begin the cases' fact rows from their case rows, set-based; their cohort counters.

    `at` is the batch's time (when they entered). A case whose version does not exist gets no
    row (the tick stopped it).
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        ids: Any = json.dumps(case_ids)
        stamp: Any = sqlite_datetime(at)
        mark = "?"
    else:
        ids, stamp, mark = list(case_ids), at, "%s"
    insert = _START_SQL.format(columns=", ".join(STARTED_COLUMNS), at=mark, ids=_IDS[dialect])
    connection.exec_driver_sql(insert, (stamp, ids))
    added: Counter[CohortKey] = Counter()
    day = at.date()
    rows = connection.exec_driver_sql(_BEGUN_SQL.format(ids=_IDS[dialect]), (ids,))
    for journey, currency, n, original in rows:
        added[journey, day, currency, "cases", 0] += n
        added[journey, day, currency, "original", 0] += int(original or 0)
    return added


def _paid_paths(
    connection: Connection, payers: dict[int, int], journeys: dict[int, int]
) -> Counter[tuple[int, date, str, str, str]]:
    """Each wire a payer took, once per case, on the day it first took it (kind 'paid')."""
    rows = connection.execute(
        select(AUDIT.c.case_id, AUDIT.c.node_id, AUDIT.c.at, AUDIT.c.detail)
        .where(AUDIT.c.case_id.in_(list(payers)), AUDIT.c.kind == "transition")
        .order_by(AUDIT.c.id)
    )
    journey_of = {c: journeys[v] for c, v in payers.items() if v in journeys}
    return paid_wires(((c, n, at, d) for c, n, at, d in rows if c in journey_of), journey_of)


def paid_wires(
    transitions: Iterable[tuple[int, str | None, datetime, Any]], journey_of: dict[int, int]
) -> Counter[tuple[int, date, str, str, str]]:
    """Count each (node, port) a paying case left by once, on the first day it did."""
    seen: set[tuple[int, str, str]] = set()
    counts: Counter[tuple[int, date, str, str, str]] = Counter()
    for case_id, node_id, at, detail in transitions:
        if isinstance(detail, str):
            detail = json.loads(detail)
        port = (detail or {}).get("port")
        if node_id is None or port is None or (case_id, node_id, port) in seen:
            continue
        seen.add((case_id, node_id, port))
        counts[journey_of[case_id], at.date(), node_id, PAID, port] += 1
    return counts


def add_step_counts(
    connection: Connection, counts: Counter[tuple[int, date, str, str, str]]
) -> None:
    """Add to the step counters (an upsert per key, keys sorted)."""
    _upsert_add(connection, "step_counts", _COUNT_KEY, "cases", counts, _COUNT_TYPES)


def add_cohort_counts(connection: Connection, counts: Counter[CohortKey]) -> None:
    """Add to the dashboard's cohort counters (an upsert per key, keys sorted)."""
    _upsert_add(connection, "cohort_counts", _COHORT_KEY, "value", +counts, _COHORT_TYPES)


_COUNT_TYPES = ("integer", "date", "varchar", "varchar", "varchar", "bigint")
_COHORT_KEY = ("journey_id", "day", "currency", "metric", "bucket")
_COHORT_TYPES = ("integer", "date", "varchar", "varchar", "integer", "bigint")


def _upsert_add(
    connection: Connection,
    table: str,
    key: tuple[str, ...],
    value: str,
    counts: Counter[Any],
    pg_types: tuple[str, ...],
) -> None:
    if not counts:
        return
    rows = [(*k, n) for k, n in sorted(counts.items())]
    conflict = (
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}"
    )
    columns = ", ".join((*key, value))
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{t}[]" for t in pg_types)
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict}"
        with connection.connection.cursor() as cursor:
            cursor.execute(sql, [list(col) for col in zip(*rows, strict=True)])
        return
    marks = ", ".join("?" for _ in pg_types)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) {conflict}"
    connection.exec_driver_sql(
        sql, [tuple(v.isoformat() if isinstance(v, date) else v for v in row) for row in rows]
    )


def _fact_states(connection: Connection, case_ids: list[int]) -> dict[int, Any]:
    """These cases' fact rows as stored (before this batch's changes are added)."""
    found: dict[int, Any] = {}
    for chunk in in_chunks(case_ids):
        rows = connection.execute(select(FACTS).where(FACTS.c.case_id.in_(chunk)))
        found.update((row.case_id, row) for row in rows)
    return found


def _exposures_of(connection: Connection, case_ids: list[int]) -> dict[int, list[Any]]:
    """Each case's experiment exposures (by the unique (case_id, experiment) index)."""
    found: dict[int, list[Any]] = defaultdict(list)
    for chunk in in_chunks(case_ids):
        rows = connection.execute(select(EXPOSURES).where(EXPOSURES.c.case_id.in_(chunk)))
        for row in rows:
            found[row.case_id].append(row)
    return found


def _arm(exposure: Any, currency: str) -> tuple[int, str, str, date, str]:
    return (
        exposure.journey_id,
        exposure.experiment,
        exposure.arm,
        exposure.exposed_at.date(),
        currency,
    )


def arm_counts_of(fact: Any, exposure: Any) -> Counter[ArmKey]:
    """What one exposed case's facts add to its arm's counters (attribute access)."""
    out: Counter[ArmKey] = Counter()
    arm = _arm(exposure, fact.currency)
    out[(*arm, "cases", 0)] += 1
    out[(*arm, "original", 0)] += fact.original_minor
    out[(*arm, "collected", 0)] += fact.collected_minor
    out[(*arm, "collected_sq", 0)] += fact.collected_minor**2
    out[(*arm, "paid_any", 0)] += fact.first_paid_at is not None
    if fact.paid_full_at is not None:
        out[(*arm, "paid_full", (fact.paid_full_at - exposure.exposed_at).days)] += 1
    out[(*arm, "messages", 0)] += sum(getattr(fact, f"messages_{c}") for c in CHANNELS)
    out[(*arm, "cost", 0)] += sum(getattr(fact, f"cost_{c}") for c in CHANNELS)
    for column in GUARDRAIL_COLUMNS:
        out[(*arm, column, 0)] += getattr(fact, column)
    return out


def _arm_change(change: CaseChange, state: Any, exposures: list[Any]) -> Counter[ArmKey]:
    """What events add to the arms a case was exposed to."""
    out: Counter[ArmKey] = Counter()
    before = state.collected_minor
    for exposure in exposures:
        arm = _arm(exposure, state.currency)
        out[(*arm, "collected", 0)] += change.collected_minor
        out[(*arm, "collected_sq", 0)] += (before + change.collected_minor) ** 2 - before**2
        if change.first_paid_at is not None and state.first_paid_at is None:
            out[(*arm, "paid_any", 0)] += 1
        if change.paid_full_at is not None and state.paid_full_at is None:
            days = (naive_utc(change.paid_full_at) - exposure.exposed_at).days
            out[(*arm, "paid_full", days)] += 1
        for column in GUARDRAIL_COLUMNS:
            out[(*arm, column, 0)] += getattr(change, column)
    return out


def add_arm_counts(connection: Connection, counts: Counter[ArmKey]) -> None:
    """Add to the per-arm counters (an upsert per key, keys sorted)."""
    _upsert_add(connection, "arm_counts", _ARM_KEY, "value", +counts, _ARM_TYPES)


_ARM_KEY = ("journey_id", "experiment", "arm", "day", "currency", "metric", "bucket")
_ARM_TYPES = ("integer", "varchar", "varchar", "date", "varchar", "varchar", "integer", "bigint")


def _change_cohorts(
    changes: dict[int, CaseChange], states: dict[int, tuple[Any, ...]]
) -> Counter[CohortKey]:
    """What events add to the cohort counters, on the day each case entered."""
    out: Counter[CohortKey] = Counter()
    for case_id, ch in changes.items():
        state = states.get(case_id)
        if state is None:  # a case that entered before the facts were kept
            continue
        first_paid, paid_full, entered = state.first_paid_at, state.paid_full_at, state.entered_at
        cohort = (state.journey_id, entered.date(), state.currency)
        out[(*cohort, "collected", 0)] += ch.collected_minor
        if ch.first_paid_at is not None and first_paid is None:
            out[(*cohort, "paid_any", 0)] += 1
        if ch.paid_full_at is not None and paid_full is None:
            out[(*cohort, "cured", (naive_utc(ch.paid_full_at) - entered).days)] += 1
            out[(*cohort, "days_to_pay", ch.days_to_pay or 0)] += 1
        for column in GUARDRAIL_COLUMNS:
            out[(*cohort, column, 0)] += getattr(ch, column)
    return out


def cohort_counts_of(facts: Iterable[dict[str, Any]]) -> Counter[CohortKey]:
    """The cohort counters that fact rows add up to (the recount's way to them)."""
    out: Counter[CohortKey] = Counter()
    for f in facts:
        cohort = (f["journey_id"], f["entered_at"].date(), f["currency"])
        out[(*cohort, "cases", 0)] += 1
        out[(*cohort, "original", 0)] += f["original_minor"]
        out[(*cohort, "collected", 0)] += f["collected_minor"]
        out[(*cohort, "paid_any", 0)] += f["first_paid_at"] is not None
        if f["paid_full_at"] is not None:
            out[(*cohort, "cured", (f["paid_full_at"] - f["entered_at"]).days)] += 1
            out[(*cohort, "days_to_pay", f["days_to_pay"] or 0)] += 1
        for column in (
            *GUARDRAIL_COLUMNS,
            *(f"messages_{c}" for c in CHANNELS),
            *(f"cost_{c}" for c in CHANNELS),
        ):
            out[(*cohort, column, 0)] += f[column]
    return +out


def _update_changes(connection: Connection, changes: dict[int, CaseChange]) -> None:
    rows = [
        (
            ch.collected_minor,
            ch.payments,
            ch.first_paid_at,
            ch.last_paid_at,
            ch.paid_full_at,
            ch.days_to_pay,
            ch.disputes,
            ch.opt_outs,
            ch.complaints,
            ch.bounces,
            case_id,
        )
        for case_id, ch in sorted(changes.items())
    ]
    _add_by_case(connection, _CHANGE_SET, rows, _CHANGE_TYPES)


_CHANGE_TYPES = (
    "bigint",
    "integer",
    "timestamp",
    "timestamp",
    "timestamp",
    "integer",
    "integer",
    "integer",
    "integer",
    "integer",
)


def add_messages(connection: Connection, sent: Sequence[tuple[int, str, Decimal | None]]) -> None:
    """Count messages handed to a channel and their cost on their cases' facts.

    `sent`: (case id, channel, cost as the connector reported it from its profile's prices).
    """
    per_case: dict[int, list[int]] = defaultdict(lambda: [0] * (2 * len(CHANNELS)))
    for case_id, channel, cost in sent:
        if channel not in CHANNELS:
            continue
        at = CHANNELS.index(channel)
        values = per_case[case_id]
        values[at] += 1
        values[len(CHANNELS) + at] += cost_units(cost)
    rows = [(*values, case_id) for case_id, values in sorted(per_case.items())]
    _add_by_case(connection, _MESSAGE_SET, rows, ("integer",) * 3 + ("bigint",) * 3)
    states = _fact_states(connection, sorted(per_case))
    cohorts: Counter[CohortKey] = Counter()
    arms: Counter[ArmKey] = Counter()
    for case_id, exposures in _exposures_of(connection, sorted(per_case)).items():
        values, state = per_case[case_id], states.get(case_id)
        for exposure in exposures if state is not None else ():
            arm = _arm(exposure, state.currency)
            arms[(*arm, "messages", 0)] += sum(values[: len(CHANNELS)])
            arms[(*arm, "cost", 0)] += sum(values[len(CHANNELS) :])
    add_arm_counts(connection, arms)
    for case_id, values in per_case.items():
        state = states.get(case_id)
        if state is not None:
            cohort = (state.journey_id, state.entered_at.date(), state.currency)
            for i, channel in enumerate(CHANNELS):
                cohorts[(*cohort, f"messages_{channel}", 0)] += values[i]
                cohorts[(*cohort, f"cost_{channel}", 0)] += values[len(CHANNELS) + i]
    add_cohort_counts(connection, cohorts)


def cost_units(cost: Decimal | None) -> int:
    """A message's cost in ten-thousandths (the outbox keeps four decimals); none costs 0."""
    return 0 if cost is None else int((Decimal(cost) * 10_000).to_integral_value())


def _add_by_case(
    connection: Connection, assignments: str, rows: list[tuple[Any, ...]], types: tuple[str, ...]
) -> None:
    """UPDATE case_facts by case id (each row's last value), set-based on PostgreSQL."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        names = [f"c{i}" for i in range(len(types))]
        arrays = ", ".join(f"%s::{t}[]" for t in (*types, "bigint"))
        sql = (
            f"UPDATE case_facts SET {assignments.format('v.{}')} FROM unnest({arrays}) "
            f"AS v({', '.join(names)}, case_id) WHERE case_facts.case_id = v.case_id"
        )
        sql = _number_placeholders(sql, names)
        columns = [
            [naive_utc(v) if isinstance(v, datetime) else v for v in col]
            for col in zip(*rows, strict=True)
        ]
        with connection.connection.cursor() as cursor:
            cursor.execute(sql, columns)
        return
    sql = f"UPDATE case_facts SET {assignments.format('?')} WHERE case_id = ?"
    connection.exec_driver_sql(
        sql,
        [tuple(sqlite_datetime(v) if isinstance(v, datetime) else v for v in row) for row in rows],
    )


def _number_placeholders(sql: str, names: list[str]) -> str:
    """Name each 'v.{}' in order: the SET list uses each value column once, left to right."""
    for name in names:
        sql = sql.replace("v.{}", f"v.{name}", 1)
    return sql
