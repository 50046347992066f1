"""The invoice PDF of a case: PUT stores it once (replace allowed, audited), GET returns it."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import Database
from engine.storage.models import AuditRow, CaseDocumentRow
from tests.api.conftest import case_json

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
URL = "/api/v1/cases/INV-1/documents/invoice"


def put(client: FlaskClient, auth: dict, data: bytes, url: str = URL, **kw: str) -> object:
    kw.setdefault("content_type", "application/pdf")
    return client.put(url, data=data, headers=auth, **kw)


def test_the_invoice_is_stored_replaced_and_read_back(
    client: FlaskClient, auth: dict, api_db: Database
) -> None:
    assert client.post("/api/v1/cases", json=case_json(), headers=auth).status_code == 201
    first = put(client, auth, PDF)
    assert first.status_code == 201, first.json
    assert first.json["result"] == "created"
    assert first.json["filename"] == "invoice-INV-1.pdf"
    assert first.json["bytes"] == len(PDF)
    assert put(client, auth, PDF).json["result"] == "unchanged"
    newer = PDF + b"% second edition\n"
    again = put(client, auth, newer)
    assert (again.status_code, again.json["result"]) == (200, "replaced")
    got = client.get(URL, headers=auth)
    assert got.status_code == 200
    assert got.mimetype == "application/pdf"
    assert got.data == newer
    with api_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CaseDocumentRow)) == 1
        audits = session.scalars(select(AuditRow).where(AuditRow.kind == "document_stored")).all()
        assert [a.detail["bytes"] for a in audits] == [len(PDF), len(newer)]
        assert audits[1].detail["replaced"] == audits[0].detail["sha256"]
    timeline = client.get("/api/v1/cases/INV-1/timeline", headers=auth).json["items"]
    assert "document_stored" in [row["kind"] for row in timeline]


def test_hostile_documents_are_problems_naming_the_field(
    client: FlaskClient, auth: dict, read_token: str, monkeypatch: object
) -> None:
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    not_pdf = put(client, auth, b"<html>hello</html>")
    assert not_pdf.status_code == 422
    assert not_pdf.mimetype == "application/problem+json"
    assert "%PDF-" in not_pdf.json["errors"]["body"][0]
    assert put(client, auth, b"").json["errors"]["body"]
    wrong_type = put(client, auth, PDF, content_type="text/plain")
    assert (wrong_type.status_code, list(wrong_type.json["errors"])) == (415, ["body"])
    unknown_kind = put(client, auth, PDF, url="/api/v1/cases/INV-1/documents/contract")
    assert (unknown_kind.status_code, list(unknown_kind.json["errors"])) == (404, ["kind"])
    assert put(client, auth, PDF, url="/api/v1/cases/NOPE/documents/invoice").status_code == 404
    assert client.get(URL, headers=auth).status_code == 404  # nothing stored yet
    reader = {"Authorization": f"Bearer {read_token}"}
    assert put(client, reader, PDF).status_code == 403
    monkeypatch.setenv("MAHNWERK_DOCUMENT_MAX_BYTES", "100")  # type: ignore[attr-defined]
    big = put(client, auth, PDF + b"0" * 100)
    assert (big.status_code, list(big.json["errors"])) == (413, ["body"])
    assert "at most 100" in big.json["errors"]["body"][0]
