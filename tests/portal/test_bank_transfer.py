"""The portal's bank transfer section: the creditor's account, the case's RF reference, a
GiroCode carrying that reference, and nothing of another case."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from engine import Database, VirtualClock, rf_reference
from engine.storage.models import VersionRow
from tests.portal.conftest import case_of, sent_link


def test_the_case_page_shows_iban_bic_rf_reference_and_a_girocode(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-T1", amount="189.00")
    case = case_of(db, "INV-T1")

    html = client.get(link).get_data(as_text=True)

    assert 'id="transfer-title"' in html
    assert "DE02 1203 0000 0000 2020 51" in html and "BYLADEM1001" in html
    assert f'<code id="rf-reference">{rf_reference(case.id)}</code>' in html
    image = re.search(r'<img src="(/p/[^"]+/girocode\.svg\?a=189\.00)"', html)
    assert image is not None, html
    answer = client.get(image.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.data.startswith(b"<svg") and b"<path" in answer.data
    assert "private" in answer.headers["Cache-Control"]


def test_each_case_shows_its_own_reference_only(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    first = sent_link(db, clock, version, external_id="INV-T2")
    sent_link(db, clock, version, external_id="INV-T3")
    mine, other = case_of(db, "INV-T2"), case_of(db, "INV-T3")

    html = client.get(first).get_data(as_text=True)

    assert rf_reference(mine.id) in html
    assert rf_reference(other.id) not in html


def test_the_section_is_german_for_a_german_case(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-T4", locale="de-DE")

    html = client.get(link).get_data(as_text=True)

    assert "Per Überweisung bezahlen" in html


def test_no_girocode_for_another_currency_but_the_account_still_shows(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-T5", currency="CHF", country="CH")

    html = client.get(link).get_data(as_text=True)

    assert "DE02 1203" in html and "girocode.svg" not in html
    assert client.get(link.rstrip("/") + "/girocode.svg").status_code == 404
