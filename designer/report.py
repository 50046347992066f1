"""The compliance report of a version: one page a reviewer approves from, also as a PDF.

It gathers what a compliance review reads, in the reader's language: the proofs over the graph
(pass or fail with the counterexample path), every compliance finding with its waiver, the rules
as sentences, every template variant rendered on a sample case with its findings beside it, the
changes since the last approved version, and the version's history. The PDF is the same HTML
through WeasyPrint (already used for letters), for the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template

from designer.i18n import _
from designer.templates_view import preview
from engine import PROOF_CODES, load_journey, prove_journey


@dataclass(frozen=True)
class ProofLine:
    """One proof as the report lists it."""

    name: str
    title: str
    passed: bool
    applies: bool
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VariantLine:
    """One template variant rendered on the sample case, with the findings about it."""

    key: str
    channel: str
    locale: str
    tone: int
    rendered: Any
    error: str | None
    findings: list[Any]


def proof_titles() -> dict[str, str]:
    """What each proof shows, as a reviewer reads it."""
    return {
        "caps": _("Contact caps in any rolling window"),
        "gaps": _("Minimum gaps between contacts"),
        "hours": _("Contact hours"),
        "consequences": _("Announced consequences are carried out"),
        "holds": _("Nothing but permitted notices after an opt-out"),
        "promises": _("A broken promise has a branch of its own"),
        "time": _("No loop without time passing"),
    }


def proof_lines(document: dict[str, Any], findings: list[Any]) -> list[ProofLine]:
    """Each proof, passed or failed, with its failures' words (from the version's findings)."""
    titles = proof_titles()
    out = []
    for proof in prove_journey(load_journey(document)):
        texts = [f.text for f in findings if f.code == PROOF_CODES[proof.name]]
        out.append(ProofLine(proof.name, titles[proof.name], proof.passed, proof.applies, texts))
    return out


def variant_lines(document: dict[str, Any], findings: list[Any]) -> list[VariantLine]:
    """Every template variant rendered on the sample case, with its findings."""
    out = []
    for key, template in sorted((document.get("templates") or {}).items()):
        for variant in template.get("variants") or []:
            v = {"key": key, "channel": template["channel"], **variant}
            rendered, error = preview(document, v)
            where = f"templates.{key}.{variant['locale']}.tone{variant['tone']}"
            about = [f for f in findings if (f.field or "").startswith(where)]
            out.append(
                VariantLine(
                    key,
                    template["channel"],
                    variant["locale"],
                    variant["tone"],
                    rendered,
                    error,
                    about,
                )
            )
    return out


def report_pdf(html: str) -> bytes:
    """The report page as a PDF (WeasyPrint), stylesheets and all."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_nothing).write_pdf()


def _nothing(url: str, *_: Any, **__: Any) -> dict[str, Any]:
    """The report's styles are inline: a message's HTML may name URLs, none is fetched."""
    raise ValueError(f"not fetched: {url}")


def render_report(**context: Any) -> str:
    """The report page's HTML."""
    return render_template("review/report.html", **context)
