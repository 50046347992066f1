"""The compliance report and waivers from the designer: a HIGH finding holds up approval until a
reviewer waives it in writing; the report lists proofs, findings, messages, rules and history
and comes as a PDF; refusals are pages, never a 500."""

from __future__ import annotations

import copy
import html
import io
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from engine import utcnow
from engine.authoring.versions import save_version
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import example_doc

KEY = "minimal"
REVIEW = f"/journeys/{KEY}/v1/review"
REPORT = f"/journeys/{KEY}/v1/report"
FIRM = "Dear {{ debtor_name }}, invoice {{ reference }} is still open. Please pay by Friday."


def page_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def with_firm_reminder(app: Flask) -> None:
    """Version 1 of 'minimal' whose friendly reminder reads firmer than tone 1 (one HIGH)."""
    doc = copy.deepcopy(example_doc(KEY))
    for variant in doc["templates"]["reminder"]["variants"]:
        if variant["tone"] == 1:
            variant["body"] = FIRM
    with app.app_context(), get_db().transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org")


def submitted(app: Flask) -> FlaskClient:
    manager = login(app.test_client(), "manager")
    assert manager.post(f"/journeys/{KEY}/v1/submit", data={"note": "ok"}).status_code == 302
    return login(app.test_client(), "reviewer")


def finding_key(page: str) -> str:
    marker = 'name="finding" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_a_high_finding_holds_up_approval_until_it_is_waived(app: Flask) -> None:
    with_firm_reminder(app)
    reviewer = submitted(app)
    page = page_of(reviewer.get(REVIEW))
    assert "Compliance findings" in page and "COMPLIANCE-TONE" in page
    assert "1 HIGH compliance findings need your written waiver first" in page
    key = finding_key(page)
    refused = reviewer.post(f"/journeys/{KEY}/v1/approve", data={"note": "ok"})
    assert refused.status_code == 422
    assert "without a written waiver" in page_of(refused)
    empty = reviewer.post(f"/journeys/{KEY}/v1/waive", data={"finding": key, "note": " "})
    assert empty.status_code == 422 and "needs the reason" in page_of(empty)
    waived = reviewer.post(
        f"/journeys/{KEY}/v1/waive", data={"finding": key, "note": "Friday is fine here."}
    )
    assert waived.status_code == 302
    page = page_of(reviewer.get(REVIEW))
    assert "Waived by reviewer@example.org" in page and "Friday is fine here." in page
    assert "waived a compliance finding" in page  # in the history
    marker = '<code title="'
    start = page.index(marker) + len(marker)
    seen = page[start : page.index('"', start)]
    approve = {"note": "ok", "content_hash": seen}
    assert reviewer.post(f"/journeys/{KEY}/v1/approve", data=approve).status_code == 302


def test_the_report_shows_proofs_findings_messages_and_history(app: Flask) -> None:
    with_firm_reminder(app)
    reviewer = submitted(app)
    page = page_of(reviewer.get(REPORT))
    assert "Compliance report: Minimal reminder, version 1" in page
    assert "Proofs over the journey" in page and "No loop without time passing" in page
    assert "nothing to prove for this jurisdiction" in page  # minimal has none: no caps
    assert "COMPLIANCE-TONE" in page and "Not waived yet." in page
    assert "Every message, on a sample case" in page and "Erika Mustermann" in page
    assert "When a case" in page  # rules as sentences
    assert "submitted for review" in page
    assert 'id="report-approve-form"' in page  # the reviewer approves from the report


def test_the_report_as_a_pdf(app: Flask) -> None:
    with_firm_reminder(app)
    reviewer = submitted(app)
    response = reviewer.get(f"{REPORT}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Compliance report" in text and "COMPLIANCE-TONE" in text


def test_the_report_reads_in_german(app: Flask) -> None:
    with_firm_reminder(app)
    reviewer = submitted(app)
    reviewer.post("/lang/de", data={"next": REPORT})
    page = page_of(reviewer.get(REPORT))
    assert "Compliance-Bericht" in page and "Beweise über die Strecke" in page


def test_the_report_of_an_unknown_version_is_404(app: Flask) -> None:
    with_firm_reminder(app)
    reviewer = login(app.test_client(), "reviewer")
    assert reviewer.get(f"/journeys/{KEY}/v9/report").status_code == 404
    assert reviewer.get("/journeys/nope/v1/report.pdf").status_code == 404


def test_the_report_shows_the_audit_chain_head(app: Flask) -> None:
    from engine.storage.models import AuditRow

    with_firm_reminder(app)
    reviewer = submitted(app)
    assert "No chained audit rows yet." in page_of(reviewer.get(REPORT))
    with app.app_context(), get_db().transaction() as session:
        row = AuditRow(at=utcnow(), case_id=None, kind="retry_requested", detail={"x": 1})
        session.add(row)
        session.flush()
        row_id, digest = row.id, row.hash.hex()
    assert len(digest) == 64  # 32 raw bytes, shown in hex

    page = page_of(reviewer.get(REPORT))
    assert f"row {row_id}," in page and f"data-chain-head>{digest}</code>" in page
    assert "mahnwerk audit verify" in page
    reviewer.post("/lang/de", data={"next": REPORT})
    assert "Prüfpfad" in page_of(reviewer.get(REPORT))
