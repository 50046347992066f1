"""A version's compliance findings through the API: per template variant, with the characters
each wording finding marks; 404 problems for an unknown journey or version."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import update

from engine import Database, VirtualClock
from engine.authoring.versions import save_version
from engine.storage.models import VersionRow
from tests.factories import journey_doc

BODY = (
    "Dear {{ debtor_name }}, invoice {{ reference }} is still open. "
    "Please pay by Friday or you could be ARRESTED."
)
SUBJECT = "Your invoice {{ reference }}"
GERMAN = (
    "Hallo {{ debtor_name }}, Ihre Rechnung {{ reference }} ist offen. "
    "Sie können unter {{ portal_url }} zahlen."
)


def doc() -> dict:
    templates = {
        "reminder": {
            "channel": "email",
            "variants": [
                {"locale": "en-GB", "tone": 1, "subject": SUBJECT, "body": BODY},
                {"locale": "de-DE", "tone": 1, "subject": "Ihre Rechnung", "body": GERMAN},
            ],
        }
    }
    return journey_doc(templates=templates)


def draft(session: object, clock: VirtualClock) -> int:
    """A draft saved with its BLOCK finding, as the designer keeps one (allow_problems)."""
    return save_version(session, doc(), clock.now, author="tests", allow_problems=True).number


def test_a_finding_points_at_the_exact_words(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        number = draft(session, clock)
    response = client.get(f"/api/v1/journeys/test-journey/versions/{number}/findings", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert (body["journey"], body["version"]) == ("test-journey", number)
    english, german = body["items"]
    assert (english["template"], english["channel"], english["locale"], english["tone"]) == (
        "reminder",
        "email",
        "en-GB",
        1,
    )
    assert english["field"] == "templates.reminder.en-GB.tone1"
    arrest = next(f for f in english["findings"] if f["rule"] == "EN-TONE-ARREST")
    assert arrest["severity"] == "BLOCK"
    assert arrest["field"] == "body"
    assert BODY[arrest["start"] : arrest["end"]] == "ARRESTED" == arrest["text"]
    assert arrest["source"] and arrest["suggestion"]
    assert "EN-TONE-ARREST" in arrest["message"] and "arrested" in arrest["message"].lower()
    # a finding about the whole text (its tone) marks no characters
    tone = next(f for f in english["findings"] if f["rule"] == "COMPLIANCE-TONE")
    assert (tone["field"], tone["start"], tone["end"], tone["text"]) == (None, None, None, None)
    # a clean variant is listed with no findings
    assert (german["locale"], german["findings"]) == ("de-DE", [])


def test_the_words_follow_accept_language(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        number = draft(session, clock)
    url = f"/api/v1/journeys/test-journey/versions/{number}/findings"
    found = client.get(url, headers={**auth, "Accept-Language": "de"}).json["items"][0]
    tone = next(f for f in found["findings"] if f["rule"] == "COMPLIANCE-TONE")
    assert tone["message"].startswith("Die Vorlage 'reminder'")


def test_a_wording_finding_gives_its_reason_and_suggestion_in_both_languages(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        number = draft(session, clock)
    url = f"/api/v1/journeys/test-journey/versions/{number}/findings"
    for accept, lang in ((None, "en"), ("de-DE,de;q=0.9", "de")):
        headers = {**auth, **({"Accept-Language": accept} if accept else {})}
        found = client.get(url, headers=headers).json["items"][0]["findings"]
        arrest = next(f for f in found if f["rule"] == "EN-TONE-ARREST")
        both = arrest["translations"]
        assert sorted(both) == ["de", "en"]
        # the top-level words are the Accept-Language's (English without one), as before
        assert {k: arrest[k] for k in ("message", "reason", "suggestion")} == both[lang]
        assert both["en"]["reason"] == "Threatens arrest or jail: a consumer debt leads to neither."
        assert both["en"]["suggestion"] == "Name only the next real step and offer help."
        assert both["de"]["reason"].startswith("Droht mit Verhaftung oder Gefängnis")
        assert both["de"]["suggestion"].startswith("Nennen Sie nur den tatsächlich nächsten")
        assert both["de"]["reason"] in both["de"]["message"]
        assert "Vorschlag: Nennen Sie" in both["de"]["message"]
        assert "Threatens" not in both["de"]["message"]
        # a finding about the whole text has no reason or suggestion, in any language
        tone = next(f for f in found if f["rule"] == "COMPLIANCE-TONE")
        assert (tone["reason"], tone["suggestion"]) == (None, None)
        assert tone["translations"]["de"]["message"].startswith("Die Vorlage 'reminder'")
        assert tone["translations"]["de"]["reason"] is None


def test_an_unknown_journey_or_version_is_a_404_problem(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for url in (
        "/api/v1/journeys/nope/versions/1/findings",
        "/api/v1/journeys/minimal/versions/9/findings",
        "/api/v1/journeys/minimal/versions/9223372036854775808/findings",
    ):
        response = client.get(url, headers=auth)
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert "There is no version" in response.json["detail"]


def test_findings_need_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/journeys/minimal/versions/1/findings").status_code == 401


def test_a_stored_document_that_no_longer_reads_is_a_422_naming_the_field(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    """A document stored before a stricter schema (here a readability target out of range)."""
    with api_db.transaction() as session:
        row = save_version(session, doc(), clock.now, author="tests", allow_problems=True)
        number, version_id = row.number, row.id
    with api_db.engine.begin() as connection:
        broken = {**doc(), "settings": {"readability": {"de": 99}}}
        connection.execute(
            update(VersionRow).where(VersionRow.id == version_id).values(document=broken)
        )
    response = client.get(f"/api/v1/journeys/test-journey/versions/{number}/findings", headers=auth)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "settings.readability.de" in response.json["errors"]
