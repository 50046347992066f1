"""axe-core in a Playwright page: the accessibility check any browser test can call."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core-4.10.3" / "axe.min.js"
AXE_SHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"
SERIOUS = ("serious", "critical")


def axe_source() -> str:
    """The vendored axe-core, refused when it is not the file VENDOR.md lists."""
    data = AXE.read_bytes()
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        raise AssertionError(f"{AXE} is not axe-core 4.10.3 as listed in VENDOR.md")
    return data.decode("utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A/AA violations on the page as it is now, of the given impacts.

    The app's Content-Security-Policy (script-src 'self') refuses an injected <script> element,
    which is what `page.add_script_tag` makes; so axe is evaluated through the DevTools protocol,
    which the policy does not govern, and the page's own policy stays on for the test.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source() + "\n;void 0")
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            resultTypes: ["violations"],
          });
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
          }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def assert_no_serious_axe_violations(page: Any) -> None:
    """Fail, listing rule, element and why, when axe-core finds a serious or critical problem."""
    found = axe_violations(page)
    lines = [
        f"{v['impact']} {v['id']} ({v['help']}): {n['target']} - {n['summary']}"
        for v in found
        for n in v["nodes"][:5]
    ]
    assert not found, f"axe-core on {page.url}:\n" + "\n".join(lines)
