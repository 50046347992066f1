"""Templates: live preview on a sample case, unknown variables shown before saving."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

URL = "/journeys/minimal/v1/templates"
VARIANT = {"template": "reminder", "channel": "email", "locale": "en-GB", "tone": "1"}


def test_editor_shows_the_first_variant(manager: FlaskClient, journey: Any) -> None:
    page = manager.get(URL).get_data(as_text=True)
    assert "A friendly reminder" in page and "Erika Mustermann" in page


def test_preview_renders_on_the_sample_case(manager: FlaskClient, journey: Any) -> None:
    data = VARIANT | {"subject": "Hi {{ debtor_name }}", "body": "Pay {{ reference }}"}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert "Hi Erika Mustermann" in page.get_data(as_text=True)


def test_preview_is_a_fragment_for_htmx(manager: FlaskClient, journey: Any) -> None:
    data = VARIANT | {"body": "Pay"}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert "<html" not in page.get_data(as_text=True)


def test_preview_names_unknown_variables(manager: FlaskClient, journey: Any) -> None:
    data = VARIANT | {"body": "Dear {{ debtor_nam }}"}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert "unknown variable &#39;debtor_nam&#39;" in page.get_data(as_text=True)


# Issue 15, point 2: a viewer froze the server with a nested loop in the preview.
LOOPING = "{% for i in range(9000) %}{% for c in reference * 10000 %}.{% endfor %}{% endfor %}"


def test_a_looping_preview_answers_with_the_budget_error_in_the_page(
    viewer: FlaskClient, journey: Any
) -> None:
    started = time.perf_counter()
    page = viewer.post(f"{URL}/preview", data=VARIANT | {"body": LOOPING})
    assert time.perf_counter() - started < 2
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Template &#39;reminder&#39; (email, en-GB, tone 1) of journey &#39;minimal&#39;" in text
    assert "more than 20000 loop steps and calls" in text


def test_a_preview_over_the_budget_that_validation_sees_names_the_problem(
    viewer: FlaskClient, journey: Any
) -> None:
    data = VARIANT | {"subject": "{{ 'x'|center(10**9) }}", "body": "Pay"}
    started = time.perf_counter()
    page = viewer.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert time.perf_counter() - started < 2
    assert "builds a text of 1000000000 characters" in page.get_data(as_text=True)


def test_the_budget_error_of_a_preview_reads_in_german(manager: FlaskClient, journey: Any) -> None:
    manager.post("/lang/de")
    data = VARIANT | {"body": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert "überschreitet ihr Budget" in page.get_data(as_text=True)


def test_save_with_unknown_variable_keeps_it_in_the_draft_and_shows_it(
    manager: FlaskClient, journey: Any
) -> None:
    response = manager.post(f"{URL}/save", data=VARIANT | {"body": "{{ nope }}"})
    assert response.headers["Location"].startswith(URL)
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "unknown variable &#39;nope&#39;" in page
    assert "Problems to fix before it can be submitted: 1." in page
    assert manager.get("/journeys/minimal/v2").status_code == 404


def test_an_unknown_filter_is_named_in_the_preview_and_saved_as_a_draft_problem(
    manager: FlaskClient, journey: Any
) -> None:
    # Issue 15, point 9a: both were a 500. A draft may hold problems until it is submitted.
    data = VARIANT | {"body": "Pay {{ amount_open|nosuchfilter }}"}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert "unknown filter &#39;nosuchfilter&#39; on line 1" in page.get_data(as_text=True)
    response = manager.post(f"{URL}/save", data=data, follow_redirects=True)
    assert response.status_code < 500
    assert "nosuchfilter" in response.get_data(as_text=True)


def test_save_without_text_is_refused(manager: FlaskClient, journey: Any) -> None:
    response = manager.post(f"{URL}/save", data=VARIANT | {"body": "  "})
    assert response.status_code == 422
    assert "The text is empty." in response.get_data(as_text=True)


def test_save_changes_the_draft_in_place(manager: FlaskClient, journey: Any) -> None:
    manager.post(f"{URL}/save", data=VARIANT | {"subject": "S", "body": "New text"})
    doc = manager.get("/journeys/minimal/v1/document").get_json()
    variants = doc["templates"]["reminder"]["variants"]
    assert {"locale": "en-GB", "tone": 1, "subject": "S", "body": "New text"} in variants
    assert manager.get("/journeys/minimal/v2").status_code == 404


def test_save_adds_a_new_locale(manager: FlaskClient, journey: Any) -> None:
    manager.post(f"{URL}/save", data=VARIANT | {"locale": "de-DE", "body": "Hallo"})
    doc = manager.get("/journeys/minimal/v1/document").get_json()
    assert len(doc["templates"]["reminder"]["variants"]) == 3


def test_a_variant_that_breaks_the_journey_is_saved_and_its_problem_shown_in_german(
    manager: FlaskClient, journey: Any
) -> None:
    manager.post("/lang/de")
    response = manager.post(f"{URL}/save", data=VARIANT | {"channel": "sms", "body": "Hallo"})
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "Schritt" in page and "reminder" in page


def test_a_submitted_version_shows_its_templates_read_only(
    manager: FlaskClient, journey: Any
) -> None:
    manager.post("/journeys/minimal/v1/submit", data={"note": "ready"})
    page = manager.get(URL).get_data(as_text=True)
    assert "Save in this draft" not in page and "Edit in a new draft" in page
    assert 'name="body" rows="12" class="mono" aria-describedby="p-body"  readonly' in page


def test_saving_a_template_of_a_submitted_version_makes_a_new_draft(
    manager: FlaskClient, journey: Any
) -> None:
    manager.post("/journeys/minimal/v1/submit", data={"note": "ready"})
    response = manager.post(f"{URL}/save", data=VARIANT | {"body": "Later text"})
    assert "/journeys/minimal/v2/templates" in response.headers["Location"]
    assert "Later text" not in bodies(manager, 1) and "Later text" in bodies(manager, 2)


def bodies(client: FlaskClient, number: int) -> list[str]:
    """The texts of every template variant of a stored version."""
    doc = client.get(f"/journeys/minimal/v{number}/document").get_json()
    return [v["body"] for t in doc["templates"].values() for v in t["variants"]]


# Issue 16, point 8: an SMS has no subject and no HTML, and its segments are counted by the
# connectors' own rules; a letter previews as the DIN 5008 PDF with its GiroCode.
SMS = VARIANT | {"template": "text", "channel": "sms"}


def test_an_sms_preview_counts_characters_and_segments_as_the_connector_does(
    manager: FlaskClient, journey: Any
) -> None:
    from connectors.sms_encoding import analyse

    for body, expected in (("Pay " + "x" * 170, "2 SMS segment"), ("Zahlen Sie 😀", "1 SMS")):
        page = manager.post(f"{URL}/preview", data=SMS | {"body": body}).get_data(as_text=True)
        found = analyse(body)
        assert f"{found.units} characters in {found.encoding}" in page
        assert expected in page
    assert "outside the GSM-7 alphabet" in page  # the emoji made it UCS-2


def test_an_sms_template_shows_no_subject_or_html_and_stores_none(
    manager: FlaskClient, journey: Any
) -> None:
    data = SMS | {"subject": "ignored", "html": "<b>ignored</b>", "body": "Pay {{ reference }}"}
    manager.post(f"{URL}/save", data=data)
    doc = manager.get("/journeys/minimal/v1/document").get_json()
    (variant,) = doc["templates"]["text"]["variants"]
    assert variant["subject"] == "" and "html" not in variant
    page = manager.get(f"{URL}?template=text&locale=en-GB&tone=1").get_data(as_text=True)
    assert 'class="part part-subject" data-not-for="sms" hidden' in page
    assert 'class="part part-html" data-not-for="sms" hidden' in page


def test_a_letter_previews_as_the_din_5008_pdf_with_its_girocode(
    manager: FlaskClient, journey: Any
) -> None:
    data = VARIANT | {"channel": "letter", "subject": "Invoice {{ reference }}", "body": "Pay."}
    response = manager.post(f"{URL}/letter.pdf", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert len(response.data) > 5000  # a page with the QR code image, not an empty shell


def test_a_letter_pdf_of_an_empty_text_names_the_problem(
    manager: FlaskClient, journey: Any
) -> None:
    response = manager.post(f"{URL}/letter.pdf", data=VARIANT | {"channel": "letter"})
    assert response.status_code == 422
    assert "The text is empty." in response.get_data(as_text=True)


# Issue 12, item 1: compliance findings shown live in the editor, at their characters.
THREAT = "Dear {{ debtor_name }},\r\nwe will get an ARREST warrant. Please pay."


def test_the_live_preview_marks_each_finding_at_its_characters_with_its_reason(
    manager: FlaskClient, journey: Any
) -> None:
    data = VARIANT | {"subject": "Invoice", "body": THREAT}
    page = manager.post(f"{URL}/preview", data=data, headers={"HX-Request": "true"})
    text = page.get_data(as_text=True)
    assert 'id="findings" class="findings" aria-labelledby="fi-title" hx-swap-oob="true"' in text
    assert '<mark class="finding sev-block" data-rule="EN-TONE-ARREST">' in text
    assert ">ARREST</a></mark> warrant" in text
    assert "Threatens arrest" in text and "Suggestion:" in text and "Legal source:" in text
    # the offsets count a line end as the browser's field does: one character
    body = THREAT.replace("\r\n", "\n")
    start = body.index("ARREST")
    assert f'data-start="{start}" data-end="{start + len("ARREST")}"' in text


def test_a_clean_text_shows_no_findings_and_german_labels(
    manager: FlaskClient, journey: Any
) -> None:
    manager.post("/lang/de")
    clean = manager.post(
        f"{URL}/preview",
        data=VARIANT | {"subject": "Invoice", "body": "Dear {{ debtor_name }}, thank you."},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert 'id="findings-none"' in clean and "<mark" not in clean
    page = manager.post(
        f"{URL}/preview", data=VARIANT | {"body": THREAT}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Vorschlag:" in page and "Rechtsquelle:" in page
    assert "Befunde zur Formulierung: 1, der schwerste BLOCK." in page


def test_the_editor_page_shows_the_stored_variants_findings(
    manager: FlaskClient, journey: Any
) -> None:
    manager.post(f"{URL}/save", data=VARIANT | {"subject": "Invoice", "body": THREAT})
    page = manager.get(URL, query_string=VARIANT | {"finding": "EN-TONE-ARREST"})
    text = page.get_data(as_text=True)
    assert 'data-rule="EN-TONE-ARREST"' in text and 'id="finding-1"' in text


def test_a_10000_word_letter_gets_its_findings_in_bounded_time(
    manager: FlaskClient, journey: Any
) -> None:
    long = "Please pay the open amount soon. " * 1700 + "We will get an arrest warrant."
    started = time.perf_counter()
    page = manager.post(
        f"{URL}/preview",
        data=VARIANT | {"channel": "letter", "body": long},
        headers={"HX-Request": "true"},
    )
    assert time.perf_counter() - started < 5
    assert 'data-rule="EN-TONE-ARREST"' in page.get_data(as_text=True)
