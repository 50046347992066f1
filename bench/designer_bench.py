"""Designer figures for a 150-step journey: server save time, and time until the editor is usable.

What is measured
----------------

**save** (target < 200 ms): the wall time of ``POST /journeys/<key>/save`` with the whole
document as JSON, exactly as the canvas's Save button sends it (signed-in manager session, CSRF
on, the token sent in ``X-CSRFToken``), through Flask's test client against the real app on a
temp SQLite file. The time covers the whole request in-process: JSON parsing, validation
(``engine.validate_document``), compilation, storing the version and its template rows, the
commit and the JSON answer. Each save stores a new draft version (the answer must be 201). One
warm-up save is not counted; then ``--saves`` (default 20) saves; median and p95 in ms.

**interactive** (target < 1 s): the editor page ``/journeys/<key>/v1`` of that journey in Debian's
Chromium (headless, Playwright sync API), served by werkzeug's ``make_server`` in a thread on
127.0.0.1 (threaded, CSRF on), signed in as a manager. The time runs from the navigation start
(``performance.now() == 0``, the page's time origin, so the server's HTML time is included) to
the first moment at which all of these hold:

1. ``static/js/canvas.js`` has finished loading the journey into Drawflow: it dispatches
   ``mahnwerk:canvas-ready`` on ``document`` at the end of its start-up;
2. the canvas holds one ``.drawflow-node`` per step (150) and one SVG connection per wire;
3. the side panel responds: the probe chooses the last step in the panel's step list
   (``#node-picker``, a ``change`` event, as a keyboard user would) and the side panel's form
   shows that step's id;
4. the browser has painted that state: the probe waits for the next animation frame and then a
   task after it (the frame in which the layout and paint happen), and reads
   ``performance.now()`` there.

The probe is installed with ``page.add_init_script`` before the page's own scripts and runs in
the page on the ready event, so no Playwright round trip is counted. Each navigation opens a
fresh tab in the same signed-in browser context (static files are revalidated from the browser
cache, as for a user who has opened the designer before). The editor version shown is v1; the
timed saves before it have added 21 more versions of the same journey.

**baseline**: the same browser, the same kind of tab, the same "painted" end (load event, then
an animation frame and a task), for the journeys list page ``/journeys``: a signed-in designer
page with no canvas. ``ratio`` = interactive median / baseline median. For scale, the same
editor measurement for the 2-step starter journey is printed as ``small_editor_ms``.

The browser measurements run in rounds: each round opens the journeys list, the big editor and
the small editor once, so a burst of load from other work on the machine hits an editor and its
baseline alike. Round 0 is a warm-up; then ``--repeats`` (default 5) rounds; medians reported.
``load_avg_1m`` gives the machine's 1-minute load average before and after the run.

Run from the checkout::

    .venv/bin/python bench/designer_bench.py
    .venv/bin/python bench/designer_bench.py --json
    .venv/bin/python bench/designer_bench.py --profile /tmp/save.prof   # + cProfile of the saves

Timings depend on the machine and what else runs on it; repeat runs and compare on one machine.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import json
import logging
import os
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Run from a checkout without installing: the repo root holds the engine and designer packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server

from designer import create_app
from engine import SCHEMA_VERSION, Database, add_user, utcnow

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER = ("bench-manager@example.org", "correct-horse-battery")
KEY = "bench-150"
SAVE_TARGET_MS = 200
INTERACTIVE_TARGET_MS = 1000

# ---- the journey ----------------------------------------------------------------------------

EMAIL_DE = (
    "Guten Tag {{ debtor_name }},\n\nunsere Rechnung {{ reference }} über "
    "{{ format_money(amount_open) }} war am {{ format_date(due_date) }} fällig. Bitte zahlen Sie "
    "online unter {{ portal_url }}.\n\nFreundliche Grüße\n{{ creditor_name }}"
)
EMAIL_EN = (
    "Dear {{ debtor_name }},\n\ninvoice {{ reference }} for {{ format_money(amount_open) }} was "
    "due on {{ format_date(due_date) }}. You can pay here: {{ portal_url }}\n\n{{ creditor_name }}"
)
SMS_DE = "{{ creditor_name }}: Rechnung {{ reference }}, offen {{ format_money(amount_open) }}. "
SMS_EN = "{{ creditor_name }}: invoice {{ reference }}, {{ format_money(amount_open) }} open. "
LETTER_DE = (
    "{% set frist = today.fromordinal(today.toordinal() + 10) %}Guten Tag {{ debtor_name }},"
    "\n\nOffener Betrag: {{ format_money(amount_open) }}\nZahlbar bis: {{ format_date(frist) }}"
    "\nVerwendungszweck: {{ reference }}\nOnline zahlen: {{ portal_url }}\n\n"
    "{% if amount_open >= 20 %}Danach geben wir die Forderung an ein Inkassounternehmen ab."
    "{% endif %}\n\nFreundliche Grüße\n{{ creditor_name }}"
)
LETTER_EN = (
    "{% set deadline = today.fromordinal(today.toordinal() + 10) %}Dear {{ debtor_name }},"
    "\n\nAmount open: {{ format_money(amount_open) }}\nPay by: {{ format_date(deadline) }}"
    "\nReference: {{ reference }}\nPay online: {{ portal_url }}\n\n{{ creditor_name }}"
)


def _templates() -> dict[str, Any]:
    """Email, SMS and letter templates in German and English, one variant per tone."""

    def variants(de: str, en: str, subject: str | None, tones: range) -> list[dict[str, Any]]:
        found = []
        for locale, body in (("de-DE", de), ("en-GB", en)):
            for tone in tones:
                variant = {"locale": locale, "tone": tone, "body": body + f"\n(#{tone})"}
                if subject is not None:
                    variant["subject"] = f"{subject} {{{{ reference }}}} ({tone})"
                found.append(variant)
        return found

    return {
        "reminder_email": {
            "channel": "email",
            "variants": variants(EMAIL_DE, EMAIL_EN, "Rechnung", range(1, 5)),
        },
        "reminder_sms": {
            "channel": "sms",
            "variants": variants(
                SMS_DE + "{{ portal_url }}", SMS_EN + "{{ portal_url }}", None, range(1, 4)
            ),
        },
        "demand_letter": {
            "channel": "letter",
            "variants": variants(LETTER_DE, LETTER_EN, "Mahnung", range(2, 5)),
        },
        "promise_broken": {
            "channel": "email",
            "variants": variants(EMAIL_DE, EMAIL_EN, "Zahltermin", range(2, 3)),
        },
    }


def build_document(steps: int = 150, key: str = KEY) -> dict[str, Any]:
    """A valid journey with exactly `steps` nodes: a long chain of dunning stages.

    Each stage: wait until due date + n days; an A/B split (email or SMS reminder); a letter;
    a wait for payment or promise with a 14-day timeout; a "paid?" condition (end, or back to
    the wait); a promise watch (kept: back to the wait; broken: an email); on timeout or broken
    promise the next stage. Early stages get an extra SMS nudge so the count comes out exact.
    The tail: an amount check, a hand-over webhook and two ends.
    """
    tail = 4
    per_stage = 10
    stages = (steps - 1 - tail) // per_stage
    extra = steps - 1 - tail - stages * per_stage
    if stages < 1:
        raise ValueError("a benchmark journey needs at least 15 steps")
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []

    def node(node_id: str, type_: str, label: str, x: int, y: int, **params: Any) -> str:
        nodes.append(
            {
                "id": node_id,
                "type": type_,
                "label": label,
                "params": params,
                "position": {"x": x, "y": y},
            }
        )
        return node_id

    def wire(source: str, target: str, port: str = "next") -> None:
        edges.append({"from": source, "port": port, "to": target})

    x = 40
    previous = node(
        "start",
        "start",
        "Open invoice",
        x,
        400,
        filter=[{"field": "amount_open", "op": "gt", "value": 0}],
    )
    previous_port = "next"
    for i in range(1, stages + 1):
        tone = min(1 + (i - 1) // 3, 4)
        x += 240
        wait = node(
            f"wait_{i}",
            "wait",
            f"Wait until D+{7 * i}, 9:00",
            x,
            400,
            mode="due_date",
            days=7 * i,
            at_time="09:00",
        )
        wire(previous, wait, previous_port)
        entry = wait
        if i <= extra:
            x += 240
            nudge = node(
                f"nudge_{i}",
                "send",
                f"SMS nudge {i}",
                x,
                400,
                channel="sms",
                template="reminder_sms",
                tone=min(tone, 3),
                purpose="reminder",
            )
            wire(wait, nudge)
            entry = nudge
        x += 240
        split = node(
            f"split_{i}",
            "split",
            f"Email or SMS ({i})",
            x,
            400,
            experiment=f"stage-{i}-channel",
            arms=[{"name": "A", "weight": 50}, {"name": "B", "weight": 50}],
            holdout=0,
        )
        wire(entry, split)
        x += 240
        email = node(
            f"email_{i}",
            "send",
            f"Reminder {i} (email)",
            x,
            250,
            channel="email",
            template="reminder_email",
            tone=tone,
            fallback_channel="letter",
            fallback_template="demand_letter",
            purpose="reminder",
        )
        sms = node(
            f"sms_{i}",
            "send",
            f"Reminder {i} (SMS)",
            x,
            550,
            channel="sms",
            template="reminder_sms",
            tone=min(tone, 3),
            fallback_channel="email",
            fallback_template="reminder_email",
            purpose="reminder",
        )
        wire(split, email, "A")
        wire(split, sms, "B")
        x += 240
        letter = node(
            f"letter_{i}",
            "send",
            f"Demand {i} (letter)",
            x,
            400,
            channel="letter",
            template="demand_letter",
            tone=max(tone, 2),
            fallback_channel="email",
            purpose="demand",
        )
        wire(email, letter)
        wire(sms, letter)
        x += 240
        deadline = node(
            f"deadline_{i}",
            "wait_event",
            f"Deadline {i} (14 days)",
            x,
            400,
            events=["payment_received", "promise_to_pay"],
            timeout_days=14,
        )
        wire(letter, deadline)
        x += 240
        paid_check = node(
            f"paid_check_{i}",
            "condition",
            "Everything paid?",
            x,
            150,
            branches=[
                {
                    "port": "paid",
                    "label": "Nothing open",
                    "when": [{"field": "amount_open", "op": "lte", "value": 0}],
                }
            ],
        )
        promise = node(f"promise_{i}", "promise", "Watch the promise", x, 650, grace_days=2)
        wire(deadline, paid_check, "payment_received")
        wire(deadline, promise, "promise_to_pay")
        x += 240
        paid = node(f"paid_{i}", "end", f"Paid in stage {i}", x, 100, outcome="paid")
        broken = node(
            f"broken_{i}",
            "send",
            "Promise broken (email)",
            x,
            650,
            channel="email",
            template="promise_broken",
            tone=2,
            purpose="reminder",
        )
        wire(paid_check, paid, "paid")
        wire(paid_check, deadline, "else")
        wire(promise, deadline, "kept")
        wire(promise, broken, "broken")
        wire(promise, broken, "none")  # as the schema upgrade wires it: where broken leads
        # Both the timeout and a broken promise lead on to the next stage's wait.
        next_wait = f"wait_{i + 1}" if i < stages else "collect_check"
        wire(broken, next_wait)
        previous, previous_port = deadline, "timeout"
    x += 240
    check = node(
        "collect_check",
        "condition",
        "Amount for collection?",
        x,
        400,
        branches=[
            {
                "port": "collect",
                "label": "20 or more open",
                "when": [{"field": "amount_open", "op": "gte", "value": 20}],
            }
        ],
    )
    wire(previous, check, previous_port)
    x += 240
    hook = node(
        "handover",
        "webhook",
        "Hand over to the agency",
        x,
        300,
        event="case.handover",
        note="Undisputed, reminder and three demands sent.",
    )
    small = node("small_amount", "end", "Small amount: write off", x, 550, outcome="written_off")
    wire(check, hook, "collect")
    wire(check, small, "else")
    x += 240
    wire(hook, node("handed_over", "end", "With the agency", x, 300, outcome="handed_over"))
    assert len(nodes) == steps, len(nodes)
    return {
        "schema_version": SCHEMA_VERSION,
        "key": key,
        "name": f"Benchmark journey ({steps} steps)",
        "description": "A long dunning chain for the designer benchmark.",
        "locale": "de-DE",
        "currency": "EUR",
        "jurisdiction": "DE",
        "attributes": [],
        "nodes": nodes,
        "edges": edges,
        "templates": _templates(),
    }


# ---- the app ----------------------------------------------------------------------------------


@contextmanager
def running_app(workdir: Path) -> Iterator[tuple[Any, str]]:
    """The designer (CSRF on) on a temp SQLite file, served on 127.0.0.1; yields (app, url)."""
    url = f"sqlite:///{workdir / 'designer.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, USER[0], USER[1], "manager", utcnow())
    db.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret"})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


def signed_in_client(app: Any) -> tuple[Any, str]:
    """A test client signed in as the manager, and the CSRF token its pages carry."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"email": USER[0], "password": USER[1], "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    page = client.get("/journeys").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client, token


def _percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure_saves(
    client: Any, token: str, doc: dict[str, Any], saves: int, profile: str | None
) -> list[float]:
    """ms per save of `doc` through POST /journeys/<key>/save, after one warm-up save."""
    body = json.dumps(doc)
    headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
    url = f"/journeys/{doc['key']}/save"

    def save() -> float:
        started = time.perf_counter()
        response = client.post(url, data=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise SystemExit(f"save answered {response.status_code}: {response.get_data()[:500]}")
        return elapsed

    save()  # warm-up: imports, first queries, template caches
    profiler = cProfile.Profile() if profile else None
    timings = []
    for _ in range(saves):
        if profiler:
            profiler.enable()
        timings.append(save())
        if profiler:
            profiler.disable()
    if profiler and profile:
        profiler.dump_stats(profile)
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
    return timings


# ---- the browser ------------------------------------------------------------------------------

# Installed before the page's own scripts. On the canvas's ready event: check the nodes, use the
# side panel, wait for the frame that paints it, then record the time since navigation start.
PROBE = """
(() => {
  const painted = (done) => requestAnimationFrame(() => setTimeout(done, 0));
  window.__bench = { done: false };
  document.addEventListener("mahnwerk:canvas-ready", () => {
    const readyAt = performance.now();
    const nodes = document.querySelectorAll("#canvas .drawflow-node").length;
    const wires = document.querySelectorAll("#canvas svg.connection").length;
    const picker = document.getElementById("node-picker");
    const last = picker.options[picker.options.length - 1];
    picker.value = last.value;
    picker.dispatchEvent(new Event("change", { bubbles: true }));
    const form = document.getElementById("node-form");
    const stepId = form.querySelector(".node-id-line code");
    const panelAt = performance.now();
    painted(() => {
      window.__bench = {
        done: true, readyAt, panelAt, at: performance.now(), nodes, wires,
        panelStep: stepId ? stepId.textContent : null,
        fields: form.querySelectorAll("input, select").length,
      };
    });
  });
  window.addEventListener("load", () => painted(() => {
    window.__benchLoad = performance.now();
  }));
})();
"""


def _open(context: Any, url: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(30000)
    page.goto(url)
    return page


def editor_once(context: Any, url: str, steps: int) -> dict[str, Any]:
    """One navigation to an editor: the probe's times (ms since navigation start)."""
    page = _open(context, url)
    page.wait_for_function("window.__bench && window.__bench.done")
    result = page.evaluate("window.__bench")
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {html: n.responseEnd, dcl: n.domContentLoadedEventEnd}; })()"
    )
    page.close()
    if result["nodes"] != steps or not result["panelStep"]:
        raise SystemExit(f"the editor did not show {steps} steps and a form: {result}")
    return {**result, **timing}


def plain_once(context: Any, url: str) -> float:
    """One navigation to a page without canvas: ms to the first paint after the load event."""
    page = _open(context, url)
    page.wait_for_function("window.__benchLoad !== undefined")
    at = page.evaluate("window.__benchLoad")
    page.close()
    return float(at)


def measure_browser(base_url: str, steps: int, repeats: int) -> dict[str, Any]:
    """The big journey's editor, the journeys list and the starter journey's editor.

    Interleaved: each round opens all three once, so a burst of load from elsewhere on the
    machine hits the editor and its baseline alike. Round 0 is a warm-up and not counted.
    """
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[Any]] = {"editor": [], "baseline": [], "small": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=base_url)
        context.add_init_script(PROBE)
        page = _open(context, "/login")
        page.get_by_label("Email").fill(USER[0])
        page.get_by_label("Password").fill(USER[1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/journeys")
        page.close()
        for round_ in range(repeats + 1):
            baseline = plain_once(context, "/journeys")
            editor = editor_once(context, f"/journeys/{KEY}/v1", steps)
            small = editor_once(context, "/journeys/bench-small/v1", 2)
            if round_:
                runs["baseline"].append(baseline)
                runs["editor"].append(editor)
                runs["small"].append(small)
        browser.close()
    editors = runs["editor"]
    return {
        "interactive": [r["at"] for r in editors],
        "ready": [r["readyAt"] for r in editors],
        "panel": [r["panelAt"] - r["readyAt"] for r in editors],
        "html": [r["html"] for r in editors],
        "dcl": [r["dcl"] for r in editors],
        "wires": editors[-1]["wires"],
        "baseline": runs["baseline"],
        "small": [r["at"] for r in runs["small"]],
    }


# ---- main -------------------------------------------------------------------------------------


def run(
    steps: int, saves: int, repeats: int, profile: str | None, with_browser: bool = True
) -> dict[str, Any]:
    """Set up the app, measure saves and page times, and return the figures."""
    doc = build_document(steps)
    load_before = round(os.getloadavg()[0], 2)
    with (
        tempfile.TemporaryDirectory(prefix="mahnwerk-bench-") as tmp,
        running_app(Path(tmp)) as (app, url),
    ):
        client, token = signed_in_client(app)
        # Version 1 of both journeys, for the pages; then the timed saves add versions 2, 3 ...
        response = client.post(
            "/journeys", data={"key": "bench-small", "name": "Small", "csrf_token": token}
        )
        assert response.status_code == 302, response.status_code
        save_ms = measure_saves(client, token, copy.deepcopy(doc), saves, profile)
        if not with_browser:
            return {
                "save_ms_median": round(statistics.median(save_ms), 1),
                "save_ms_p95": round(_percentile(save_ms, 95), 1),
                "save_ms_min": round(min(save_ms), 1),
                "load_avg_1m": [load_before, round(os.getloadavg()[0], 2)],
            }
        editor = measure_browser(url, steps, repeats)
    interactive = statistics.median(editor["interactive"])
    baseline = statistics.median(editor["baseline"])
    return {
        "save_ms_median": round(statistics.median(save_ms), 1),
        "save_ms_p95": round(_percentile(save_ms, 95), 1),
        "interactive_ms_median": round(interactive, 1),
        "baseline_ms": round(baseline, 1),
        "ratio": round(interactive / baseline, 2),
        "steps": steps,
        "wires": editor["wires"],
        "saves": saves,
        "repeats": repeats,
        "save_ms_min": round(min(save_ms), 1),
        "interactive_ms_runs": [round(v, 1) for v in editor["interactive"]],
        "html_ms_median": round(statistics.median(editor["html"]), 1),
        "dom_content_loaded_ms_median": round(statistics.median(editor["dcl"]), 1),
        "canvas_ready_ms_median": round(statistics.median(editor["ready"]), 1),
        "panel_ms_median": round(statistics.median(editor["panel"]), 1),
        "small_editor_ms": round(statistics.median(editor["small"]), 1),
        "load_avg_1m": [load_before, round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--steps", type=int, default=150, help="nodes in the journey")
    parser.add_argument("--saves", type=int, default=20, help="timed saves")
    parser.add_argument("--repeats", type=int, default=5, help="timed editor navigations")
    parser.add_argument("--profile", help="write a cProfile of the timed saves to this file")
    parser.add_argument("--skip-browser", action="store_true", help="measure the saves only")
    args = parser.parse_args()
    figures = run(args.steps, args.saves, args.repeats, args.profile, not args.skip_browser)
    if args.json or args.skip_browser:
        print(json.dumps(figures))
        return
    ok = {True: "ok", False: "MISSED"}
    print(f"journey: {figures['steps']} steps, {figures['wires']} wires")
    print(
        f"save: median {figures['save_ms_median']} ms, p95 {figures['save_ms_p95']} ms "
        f"over {figures['saves']} saves (target < {SAVE_TARGET_MS} ms: "
        f"{ok[figures['save_ms_p95'] < SAVE_TARGET_MS]})"
    )
    print(
        f"editor interactive: median {figures['interactive_ms_median']} ms over "
        f"{figures['repeats']} navigations {figures['interactive_ms_runs']} (target < "
        f"{INTERACTIVE_TARGET_MS} ms: "
        f"{ok[figures['interactive_ms_median'] < INTERACTIVE_TARGET_MS]})"
    )
    print(
        f"  of which: HTML received {figures['html_ms_median']} ms, DOMContentLoaded "
        f"{figures['dom_content_loaded_ms_median']} ms, canvas ready "
        f"{figures['canvas_ready_ms_median']} ms, panel {figures['panel_ms_median']} ms"
    )
    print(f"baseline (journeys list, painted after load): {figures['baseline_ms']} ms")
    print(f"ratio interactive / baseline: {figures['ratio']}")
    print(f"starter journey (2 steps) editor interactive: {figures['small_editor_ms']} ms")
    print(
        f"1-minute load average before / after: {figures['load_avg_1m']} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
