"""Access: only a signed, fresh, current link of an open case opens the portal: its case only."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from engine import Database, VirtualClock, portal_url, revoke_portal_links
from engine.storage.models import VersionRow
from tests.portal.conftest import SECRET, case_of, sent_link


def test_the_link_in_a_sent_message_opens_the_case(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-A", amount="189.00", reference="R-77")

    page = client.get(link)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "189" in html and "R-77" in html and "Stadtwerke Test" in html
    assert "INV-A" not in link


def test_a_guessable_external_id_opens_nothing(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    sent_link(db, clock, version, external_id="INV-B", reference="R-B")

    for path in ("/p/INV-B", "/p/1", "/p/sample", "/p/", "/p/x/promise"):
        page = client.get(path)
        assert page.status_code in (404, 405), path
        assert "R-B" not in page.get_data(as_text=True)


def test_a_tampered_link_gets_a_clear_page_and_no_data(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-C", reference="R-C")
    payload, stamp, signature = link.removeprefix("/p/").split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")

    for bad in (f"{payload}.{stamp}.{flipped}", f"{payload}x.{stamp}.{signature}", link[3:-5]):
        page = client.get(f"/p/{bad}")
        html = page.get_data(as_text=True)
        assert page.status_code == 404
        assert "This link does not work" in html
        assert "R-C" not in html


def test_a_link_signed_with_another_key_opens_nothing(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    sent_link(db, clock, version, external_id="INV-K")
    row = case_of(db, "INV-K")
    forged = portal_url(row, clock.now, "/p", secret="someone-elses-key")

    assert client.get(forged).status_code == 404


def test_an_expired_link_is_refused(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-D", reference="R-D")
    assert client.get(link).status_code == 200

    clock.advance(timedelta(days=31))  # MAHNWERK_PORTAL_LINK_DAYS defaults to 30
    page = client.get(link)

    assert page.status_code == 410
    assert "This link has expired" in page.get_data(as_text=True)
    assert "R-D" not in page.get_data(as_text=True)


def test_a_revoked_link_is_refused_and_a_new_one_works(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    old = sent_link(db, clock, version, external_id="INV-E", reference="R-E")
    row = case_of(db, "INV-E")
    with db.transaction() as session:
        generation = revoke_portal_links(session, row.id, clock.now, by="tests")

    page = client.get(old)
    assert page.status_code == 410
    assert "no longer valid" in page.get_data(as_text=True)
    row = case_of(db, "INV-E")
    assert row.portal_link_gen == generation == 1
    assert client.get(portal_url(row, clock.now, "/p", secret=SECRET)).status_code == 200


def test_a_closed_case_shows_closed_and_no_data(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-F", reference="R-F")
    with db.transaction() as session:
        from tests.factories import case_row

        case_row(session, "INV-F").status = "closed"

    page = client.get(link)

    assert page.status_code == 410
    assert "This case is closed" in page.get_data(as_text=True)
    assert "R-F" not in page.get_data(as_text=True)


def test_case_a_link_never_reaches_case_b(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link_a = sent_link(db, clock, version, external_id="INV-G", reference="R-AAA")
    link_b = sent_link(db, clock, version, external_id="INV-H", reference="R-BBB")
    a, b = case_of(db, "INV-G"), case_of(db, "INV-H")

    assert "R-BBB" not in client.get(link_a).get_data(as_text=True)
    assert "R-AAA" not in client.get(link_b).get_data(as_text=True)
    # A's token with B's id or external id in the path, or B's id in the query: nothing of B.
    for path in (f"{link_a}/{b.id}", f"/p/{b.external_id}", f"{link_a}?case={b.id}"):
        page = client.get(path)
        assert "R-BBB" not in page.get_data(as_text=True), path
    # Every id from 1 to 50 in place of a token: nothing opens.
    for guess in range(1, 50):
        assert client.get(f"/p/{guess}").status_code == 404
    assert a.id != b.id


def test_security_headers_and_the_portal_cookie(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-I")

    page = client.get(link)
    csp = page.headers["Content-Security-Policy"]

    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in page.get_data(as_text=True)
    cookie = client.get_cookie("mahnwerk_portal", path="/p")
    assert cookie is not None and cookie.http_only
    assert client.get_cookie("session") is None  # the designer's cookie is never set or read
