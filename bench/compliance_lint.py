"""Time the compliance linter over a 150-step journey with 100 template variants.

The journey: start, 75 send steps each followed by a wait, end; 25 email templates with four
variants each (en-GB, en-US, de-DE, en-IE), each body about 100 words (long enough to be scored
for readability). Prints the cold run (packs and hyphenation dictionaries load) and warm runs.
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

from engine.compliance.journey import lint_journey
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
    result = {
        "steps": len(journey.nodes),
        "variants": sum(len(t.variants) for t in journey.templates.values()),
        "findings": len(findings),
        "cold_ms": round(cold, 1),
        "warm_median_ms": round(statistics.median(warm), 1),
        "warm_min_ms": round(min(warm), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
