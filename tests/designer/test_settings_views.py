"""Delivery settings: profiles without secrets, and test sends through the real connectors."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from designer import create_app
from mahnwerk_web.db import get_db
from tests.designer.conftest import PASSWORD, email, login

ADDRESS = {
    "name": "Erika Mustermann",
    "street": "Heidestraße 17",
    "postcode": "51147",
    "city": "Köln",
    "country": "de",
}


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as an admin."""
    return login(client, "admin")


@pytest.fixture(autouse=True)
def no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without MAHNWERK_CONFIG and without instance/mahnwerk.toml: the sandboxes."""
    monkeypatch.delenv("MAHNWERK_CONFIG", raising=False)
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path / "no-instance"))


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write a delivery settings file and point MAHNWERK_CONFIG at it."""

    def write(text: str) -> Path:
        path = tmp_path / "mahnwerk.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("MAHNWERK_CONFIG", str(path))
        return path

    return write


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses 'gone@' recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server (aiosmtpd, plain) on 127.0.0.1; yields its port and mailbox."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


def result(page: str) -> dict[str, str]:
    """The SendResult as the page shows it: {dt text: dd text}."""
    pairs = re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", page, re.S)
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in pairs}


# ---- who may see it ------------------------------------------------------------------------


def test_admin_sees_the_sandbox_profiles(admin: FlaskClient) -> None:
    page = admin.get("/settings/delivery").get_data(as_text=True)
    assert "embedded defaults (sandbox)" in page
    assert page.count("sandbox: nothing leaves the building") == 3
    assert "forderungen@mahnwerk.example" in page


@pytest.mark.parametrize("role", ["manager", "reviewer", "viewer"])
def test_only_admins(client: FlaskClient, role: str) -> None:
    login(client, role)
    assert client.get("/settings/delivery").status_code == 403
    form = {"channel": "email", "to": "a@example.org"}
    assert client.post("/settings/delivery/test", data=form).status_code == 403
    assert "/settings/delivery" not in client.get("/journeys").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/settings/delivery")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post("/settings/delivery/test", data={"channel": "email"}).status_code == 302


def test_admins_have_a_nav_link(admin: FlaskClient) -> None:
    assert 'href="/settings/delivery"' in admin.get("/journeys").get_data(as_text=True)


def test_german(admin: FlaskClient) -> None:
    admin.post("/lang/de")
    page = admin.get("/settings/delivery").get_data(as_text=True)
    assert "Versandeinstellungen" in page and "Test-E-Mail senden" in page


# ---- what it shows -------------------------------------------------------------------------


def test_profiles_show_provider_and_source_but_never_secrets(
    admin: FlaskClient, config_file: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(
        """
[channels]
email = "mail"
sms = "hook"

[profiles.mail]
provider = "smtp"
host = "smtp.example.org"
port = 587
username = "mahnwerk-user"

[profiles.hook]
provider = "webhook"
url = "https://sms.example.org/send?token=url-secret-123"
"""
    )
    monkeypatch.setenv("MAHNWERK_PROFILE_MAIL_PASSWORD", "pw-secret-456")
    monkeypatch.setenv("MAHNWERK_PROFILE_HOOK_SECRET", "hmac-secret-789")
    page = admin.get("/settings/delivery").get_data(as_text=True)
    assert str(path) in page
    assert "<code>smtp</code>" in page and "<code>webhook</code>" in page
    assert "smtp.example.org" in page and "587" in page
    for secret in ("pw-secret-456", "hmac-secret-789", "url-secret-123", "mahnwerk-user"):
        assert secret not in page
    assert page.count("hidden, from the environment") == 2  # password, secret
    assert page.count("sandbox: nothing leaves the building") == 1  # letters


def test_unreadable_settings_are_reported(
    admin: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAHNWERK_CONFIG", str(tmp_path / "missing.toml"))
    page = admin.get("/settings/delivery")
    assert page.status_code == 200
    assert "cannot be read" in page.get_data(as_text=True)
    response = admin.post("/settings/delivery/test", data={"channel": "email", "to": "a@b.de"})
    assert response.status_code == 503


def test_a_profile_that_does_not_build_is_reported(
    admin: FlaskClient, config_file: Callable[[str], Path]
) -> None:
    config_file('[channels]\nemail = "mail"\n\n[profiles.mail]\nprovider = "carrier-pigeon"\n')
    response = admin.post("/settings/delivery/test", data={"channel": "email", "to": "a@b.de"})
    assert response.status_code == 503
    assert "No email connector called &#39;carrier-pigeon&#39;" in response.get_data(as_text=True)


# ---- test sends through the sandboxes ------------------------------------------------------


def test_email_through_the_sandbox(admin: FlaskClient) -> None:
    response = admin.post(
        "/settings/delivery/test", data={"channel": "email", "to": "a@example.org"}
    )
    shown = result(response.get_data(as_text=True))
    assert response.status_code == 200
    assert shown["Status"] == "accepted"
    assert shown["Provider id"].startswith("sandbox-email-test-")
    assert shown["Reason"] == "—"


def test_a_bad_email_address_is_the_connectors_refusal(admin: FlaskClient) -> None:
    page = admin.post("/settings/delivery/test", data={"channel": "email", "to": "not-an-address"})
    shown = result(page.get_data(as_text=True))
    assert shown["Status"] == "permanent_failure"
    assert "not a valid email address" in shown["Reason"]


def test_sms_through_the_sandbox(admin: FlaskClient) -> None:
    page = admin.post("/settings/delivery/test", data={"channel": "sms", "to": "+49 151 23456789"})
    shown = result(page.get_data(as_text=True))
    assert shown["Status"] == "accepted" and shown["Segments"] == "1"
    assert shown["Provider id"].startswith("sandbox-sms-test-")


def test_a_bad_phone_number(admin: FlaskClient) -> None:
    page = admin.post("/settings/delivery/test", data={"channel": "sms", "to": "12"})
    assert result(page.get_data(as_text=True))["Status"] == "permanent_failure"


def test_letter_through_the_sandbox(admin: FlaskClient) -> None:
    page = admin.post("/settings/delivery/test", data={"channel": "letter", **ADDRESS})
    shown = result(page.get_data(as_text=True))
    assert shown["Status"] == "accepted"
    assert shown["Provider id"].startswith("sandbox-letter-test-")


def test_letter_needs_the_whole_address(admin: FlaskClient) -> None:
    response = admin.post(
        "/settings/delivery/test", data={"channel": "letter", **ADDRESS, "city": " "}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Fill in the whole address." in page
    assert 'value="Heidestraße 17"' in page  # what was typed stays


def test_an_address_is_needed(admin: FlaskClient) -> None:
    response = admin.post("/settings/delivery/test", data={"channel": "sms", "to": ""})
    assert response.status_code == 400
    assert "Type the address" in response.get_data(as_text=True)


def test_unknown_channel(admin: FlaskClient) -> None:
    response = admin.post("/settings/delivery/test", data={"channel": "fax", "to": "1"})
    assert response.status_code == 400


def test_htmx_gets_the_result_only(admin: FlaskClient) -> None:
    response = admin.post(
        "/settings/delivery/test",
        data={"channel": "email", "to": "a@example.org"},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert "<html" not in page and 'id="test-result-email"' in page
    assert result(page)["Status"] == "accepted"


def test_letter_through_the_drop_folder_renders_a_pdf(
    admin: FlaskClient, config_file: Callable[[str], Path], tmp_path: Path
) -> None:
    folder = tmp_path / "print"
    config_file(
        f'[channels]\nletter = "print"\n\n[profiles.print]\nprovider = "dropfolder"\n'
        f'path = "{folder}"\n'
    )
    page = admin.post("/settings/delivery/test", data={"channel": "letter", **ADDRESS})
    shown = result(page.get_data(as_text=True))
    assert shown["Status"] == "accepted", shown
    pdfs = list(folder.rglob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")


# ---- a real SMTP server --------------------------------------------------------------------

SMTP_CONFIG = """
[channels]
email = "local-smtp"

[profiles.local-smtp]
provider = "smtp"
host = "127.0.0.1"
port = {port}
security = "plain"
timeout = 10
"""


def test_email_through_a_real_smtp_server(
    admin: FlaskClient, config_file: Callable[[str], Path], smtp: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp
    config_file(SMTP_CONFIG.format(port=port))
    page = admin.get("/settings/delivery").get_data(as_text=True)
    assert "<code>127.0.0.1</code>" in page and f"<code>{port}</code>" in page
    response = admin.post(
        "/settings/delivery/test", data={"channel": "email", "to": "ops@example.org"}
    )
    shown = result(response.get_data(as_text=True))
    assert shown["Status"] == "accepted", shown
    assert shown["Provider id"].startswith("&lt;") or shown["Provider id"].startswith("<")
    assert len(mailbox.messages) == 1
    sender, recipients, raw = mailbox.messages[0]
    mail = message_from_bytes(raw, policy=email_policy)
    assert sender == "forderungen@mahnwerk.example" and recipients == ["ops@example.org"]
    assert mail["Subject"] == "Mahnwerk test message"
    assert email("admin") in mail.get_body(("plain",)).get_content()


def test_a_refused_recipient_shows_the_servers_answer(
    admin: FlaskClient, config_file: Callable[[str], Path], smtp: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp
    config_file(SMTP_CONFIG.format(port=port))
    response = admin.post(
        "/settings/delivery/test", data={"channel": "email", "to": "gone@example.org"}
    )
    shown = result(response.get_data(as_text=True))
    assert shown["Status"] == "permanent_failure"
    assert "550" in shown["Reason"]
    assert mailbox.messages == []


def test_no_server_is_a_temporary_failure(
    admin: FlaskClient, config_file: Callable[[str], Path]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config_file(SMTP_CONFIG.format(port=port))
    response = admin.post(
        "/settings/delivery/test", data={"channel": "email", "to": "a@example.org"}
    )
    assert result(response.get_data(as_text=True))["Status"] == "temporary_failure"


def test_test_send_needs_the_csrf_token(app: Flask) -> None:
    guarded = create_app({**app.config, "WTF_CSRF_ENABLED": True, "TESTING": True})
    client = guarded.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)[1]
    form: dict[str, Any] = {"email": email("admin"), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    send = {"channel": "email", "to": "a@example.org"}
    assert client.post("/settings/delivery/test", data=send).status_code == 400
    page = client.get("/settings/delivery").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = client.post("/settings/delivery/test", data={**send, "csrf_token": token})
    assert response.status_code == 200 and result(response.text)["Status"] == "accepted"
    with guarded.app_context():
        get_db().dispose()


def test_a_whatsapp_test_while_it_is_off_says_so(admin: FlaskClient) -> None:
    page = admin.post(
        "/settings/delivery/test", data={"channel": "whatsapp", "to": "+49 151 23456789"}
    )
    assert page.status_code == 400
    assert "This channel is off" in page.get_data(as_text=True)
