"""Time the compliance linter over a 150-step journey with 100 template variants.

The journey: start, 75 send steps each followed by a wait, end; 25 email templates with four
variants each (en-GB, en-US, de-DE, en-IE), each body about 100 words (long enough to be scored
for readability). Prints the cold run (packs and hyphenation dictionaries load) and warm runs
of the linter (aim < 300 ms), of the static proofs (aim < 1 s), of the editor's live findings
of one variant with a 10,000-word body, and a baseline measured in the same run: reading the
same document (`load_journey`, the schema check every save does), so that the ratios compare
across machines and loads where the milliseconds do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.authoring.compliance import text_findings
from engine.compliance.journey import lint_journey
from engine.compliance.proofs import prove_journey
from engine.journey.document import load_journey

BODY = {
    "en": (
        "Dear {{ debtor_name }}, our invoice {{ reference }} over {{ format_money(amount_open) }} "
        "was due on {{ format_date(due_date) }}. You can pay in a minute at {{ portal_url }}. "
        "If you have already paid, thank you, and please ignore this message. "
    )
    * 3,
    "de": (
        "Guten Tag {{ debtor_name }}, unsere Rechnung {{ reference }} über "
        "{{ format_money(amount_open) }} war am {{ format_date(due_date) }} fällig. Sie können "
        "in einer Minute online zahlen: {{ portal_url }}. Haben Sie schon bezahlt, danke! "
    )
    * 3,
}


def big_journey(steps: int = 150, variants: int = 100) -> dict[str, Any]:
    """The benchmark journey as a document."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "params": {}}]
    edges, prev, templates = [], "start", max(1, variants // 4)
    for i in range(steps // 2):
        send = {"channel": "email", "template": f"t{i % templates}", "tone": 1}
        nodes += [
            {"id": f"s{i}", "type": "send", "params": send},
            {"id": f"w{i}", "type": "wait", "params": {"mode": "duration", "days": 1}},
        ]
        edges += [{"from": prev, "to": f"s{i}"}, {"from": f"s{i}", "to": f"w{i}"}]
        prev = f"w{i}"
    nodes.append({"id": "done", "type": "end", "params": {"outcome": "closed"}})
    edges.append({"from": prev, "to": "done"})
    locales = ["en-GB", "en-US", "de-DE", "en-IE"]
    return {
        "schema_version": 2,
        "key": "bench-compliance",
        "name": "Compliance bench",
        "locale": "en-GB",
        "jurisdiction": "US",
        "nodes": nodes,
        "edges": edges,
        "templates": {
            f"t{t}": {
                "channel": "email",
                "variants": [
                    {
                        "locale": loc,
                        "tone": 1,
                        "subject": "Invoice {{ reference }}",
                        "body": BODY[loc[:2]],
                    }
                    for loc in locales
                ],
            }
            for t in range(templates)
        },
    }


def _median_ms(work: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    journey = load_journey(big_journey())
    started = time.perf_counter()
    findings = lint_journey(journey)
    cold = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(args.runs):
        started = time.perf_counter()
        lint_journey(journey)
        warm.append((time.perf_counter() - started) * 1000)
    doc = big_journey()
    baseline = _median_ms(lambda: load_journey(doc), args.runs)
    proofs = _median_ms(lambda: prove_journey(journey), args.runs)
    letter = big_journey()
    letter["templates"]["t0"]["variants"][0]["body"] = "Please pay the open amount soon. " * 1700
    long_journey = load_journey(letter)  # a 10,000-word body, as the editor sends it live
    editor = _median_ms(lambda: text_findings(long_journey, "t0", "en-GB", 1), args.runs)
    lint = statistics.median(warm)
    result = {
        "steps": len(journey.nodes),
        "variants": sum(len(t.variants) for t in journey.templates.values()),
        "findings": len(findings),
        "cold_ms": round(cold, 1),
        "warm_median_ms": round(lint, 1),
        "warm_min_ms": round(min(warm), 1),
        "proof_median_ms": round(proofs, 1),
        "editor_10000_words_median_ms": round(editor, 1),
        "baseline_load_journey_median_ms": round(baseline, 1),
        "lint_to_baseline": round(lint / baseline, 1),
        "proof_to_baseline": round(proofs / baseline, 1),
        "lint_aim_300ms_met": lint < 300,
        "proof_aim_1s_met": proofs < 1000,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
