"""The designer's case list on 1,000,000 cases in PostgreSQL (pgserver): one page with its count.

Run from a checkout: `PYTHONPATH=$PWD .venv/bin/python bench/case_list.py`. The cases are
inserted with generate_series (every tenth held, every third in Austria, 5,000 amounts, 365 due
dates, five steps); each query runs 3 times through `engine.queries.list_case_page` and the best
wall time (page and count) is printed. Target: < 200 ms for a sorted or filtered page.
"""

# ruff: noqa
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
import pgserver
from sqlalchemy import make_url, text
from engine import Database, queries, utcnow
from tests.factories import example_doc, publish

d = Path(tempfile.mkdtemp(prefix="cl-pg-"))
srv = pgserver.get_server(d, cleanup_mode="stop")
url = (
    make_url(srv.get_uri())
    .set(drivername="postgresql+psycopg2")
    .render_as_string(hide_password=False)
)
db = Database(url)
db.create_all()
with db.transaction() as s:
    v = publish(s, example_doc("minimal"), utcnow())
    vid = v.id
t = time.perf_counter()
with db.transaction() as s:
    s.execute(
        text(f"""
    INSERT INTO cases (external_id, version_id, node_id, status, hold_reason, debtor_name, debtor_type,
      country, locale, timezone, currency, amount_original, amount_open, due_date, created_at, updated_at,
      attributes, arms, contact_prefs, messages_sent, payments_count, visits, portal_link_gen)
    SELECT 'B-' || g, {vid}, (ARRAY['start','wait_7','reminder','wait_pay','second'])[1 + g % 5],
      CASE WHEN g % 10 = 0 THEN 'held' ELSE 'active' END, CASE WHEN g % 10 = 0 THEN 'dispute' END,
      'Debtor ' || g, 'consumer', CASE WHEN g % 3 = 0 THEN 'AT' ELSE 'DE' END, 'de-DE', 'Europe/Berlin', 'EUR',
      (g % 5000) + 0.5, (g % 5000) + 0.5, DATE '2026-01-01' + (g % 365), now(), now(), '{{}}', '{{}}', '{{}}', 0, 0, 0, 0
    FROM generate_series(1, 1000000) g""")
    )
    s.execute(text("ANALYZE cases"))
print(f"insert 1M: {time.perf_counter() - t:.1f}s", flush=True)
cases = [
    ("newest first, page 1", dict()),
    ("newest first, page 20000 (the last)", dict(page=20000)),
    ("sort due, page 1", dict(sort="due")),
    ("sort -amount, page 1", dict(sort="amount", descending=True)),
    ("sort step, page 200", dict(sort="step", page=200)),
    ("sort status, page 1", dict(sort="status")),
    (
        "country AT + amount 100-200, sort due",
        dict(country="AT", amount_min=100, amount_max=200, sort="due"),
    ),
    ("journey + step reminder + held", dict(journey="minimal", step="reminder", status="held")),
    (
        "due range one week, sort amount",
        dict(
            due_from=date(2026, 3, 1),
            due_to=date(2026, 3, 7),
            sort="amount",
        ),
    ),
    ("text 'debtor 4711'", dict(text="debtor 4711")),
]
for name, kw in cases:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        with db.transaction() as s:
            p = queries.list_case_page(s, queries.CaseListQuery(**kw))
        times.append(time.perf_counter() - t)
    print(f"{name}: total={p.total} rows={len(p.rows)} best={min(times) * 1000:.0f} ms", flush=True)
db.dispose()
srv.cleanup()
shutil.rmtree(d, ignore_errors=True)
