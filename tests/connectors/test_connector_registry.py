"""The connector registry: built-ins and plugins found through the same entry-point group."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from connectors.base import ConnectorConfigError
from connectors.email_smtp import SmtpEmailConnector
from connectors.registry import (
    BUILTINS,
    GROUP,
    ConnectorRegistry,
    build_connector,
    default_registry,
)
from connectors.sms_sandbox import SandboxSmsConnector


def test_build_connector_from_a_profile() -> None:
    smtp = build_connector("email", {"provider": "smtp", "host": "mail.example", "port": 2525})
    assert isinstance(smtp, SmtpEmailConnector) and smtp.port == 2525


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_resolves_and_builds_for_its_channel(name: str, tmp_path: Path) -> None:
    channel, provider = name.split(".")
    required = {
        "email.smtp": {"host": "mail.example"},
        "sms.twilio": {"account_sid": "AC1", "auth_token": "t", "from_number": "+4930123456"},
        "sms.webhook": {"url": "https://sms.example/send"},
        "whatsapp.cloud_api": {"phone_number_id": "106540352242922", "access_token": "t"},
        "letter.dropfolder": {"path": str(tmp_path)},
        "payment.stripe": {"api_key": "sk_test_1", "secret": "whsec_1"},
        "payment.mollie": {"api_key": "test_" + "a" * 30},
        "payment.gocardless": {"token": "sandbox_token", "secret": "whsec"},
        "payment.sandbox": {
            "directory": str(tmp_path),
            "webhook_secret": "s",
            "checkout_url": "http://127.0.0.1/p/sandbox/checkout",
        },
    }.get(name, {})
    connector = build_connector(channel, {"provider": provider, **required})
    assert connector.channel == channel


def test_unknown_provider_lists_the_available_ones() -> None:
    with pytest.raises(ConnectorConfigError, match="available: sandbox, twilio, webhook"):
        build_connector("sms", {"provider": "carrier-pigeon"})


def test_profile_without_provider_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="does not name a provider"):
        build_connector("email", {"host": "x"})


def test_unknown_setting_is_named() -> None:
    with pytest.raises(ConnectorConfigError, match=r"Unknown setting.*hots"):
        build_connector("email", {"provider": "smtp", "hots": "typo.example"})


def test_missing_setting_is_named() -> None:
    with pytest.raises(ConnectorConfigError, match=r"Missing required setting.*host"):
        build_connector("email", {"provider": "smtp"})


def test_float_price_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="not a float"):
        build_connector("sms", {"provider": "sandbox", "price_per_segment": 0.07})


def test_installed_plugin_is_found_through_the_entry_point_group(tmp_path, monkeypatch) -> None:
    (tmp_path / "acme_sms.py").write_text(
        textwrap.dedent(
            """
            from connectors.sms_sandbox import SandboxSmsConnector

            def from_profile(settings):
                return SandboxSmsConnector(sender=settings.get("sender"))
            """
        )
    )
    dist = tmp_path / "acme_sms-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sms\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nsms.acme = acme_sms:from_profile\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        connector = build_connector("sms", {"provider": "acme", "sender": "ACME"})
    finally:
        default_registry.cache_clear()
        sys.modules.pop("acme_sms", None)
    assert isinstance(connector, SandboxSmsConnector) and connector.sender == "ACME"


def test_two_different_factories_for_one_name_clash() -> None:
    registry = ConnectorRegistry()
    registry.register("sms", "x", lambda s: SandboxSmsConnector())
    with pytest.raises(ConnectorConfigError, match=r"Two connectors claim sms\.x"):
        registry.register("sms", "x", SandboxSmsConnector)


def test_factory_building_the_wrong_channel_is_refused() -> None:
    registry = ConnectorRegistry()
    registry.register("email", "odd", lambda s: SandboxSmsConnector())
    with pytest.raises(ConnectorConfigError, match="non-email connector"):
        registry.build("email", {"provider": "odd"})
