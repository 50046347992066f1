"""Payment providers by name: the sandbox by default, [payments.<name>] tables, secrets from env."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import ConnectorConfigError
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import PaymentConfigError, UnknownProvider, load_payment_providers
from engine.core.settings import Settings


def settings(tmp_path: Path) -> Settings:
    return Settings(secret_key="k" * 40, portal_base_url="https://pay.example.org/p")


def test_the_sandbox_is_always_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path))
    providers = load_payment_providers(settings(tmp_path), environ={})
    sandbox = providers.get("sandbox")
    assert isinstance(sandbox, SandboxPaymentProvider)
    assert sandbox.checkout_url == "https://pay.example.org/p/sandbox/checkout"
    assert sandbox.directory == tmp_path / "payments-sandbox"
    assert providers.get("sandbox") is sandbox  # built once
    with pytest.raises(UnknownProvider, match="configured: sandbox"):
        providers.get("stripe")


def test_tables_and_secrets_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "mahnwerk.toml"
    config.write_text(f'[payments.sandbox]\ndirectory = "{tmp_path / "elsewhere"}"\n')
    env = {"MAHNWERK_PAYMENT_SANDBOX_WEBHOOK_SECRET": "from-env"}
    providers = load_payment_providers(settings(tmp_path), config, env)
    sandbox = providers.get("sandbox")
    assert sandbox.webhook_secret == "from-env"
    assert sandbox.directory == tmp_path / "elsewhere"


def test_a_secret_in_the_file_is_refused_naming_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "mahnwerk.toml"
    config.write_text('[payments.stripe]\napi_key = "sk_live_x"\n')
    with pytest.raises(PaymentConfigError, match="MAHNWERK_PAYMENT_STRIPE_API_KEY"):
        load_payment_providers(settings(tmp_path), config, {})


def test_a_provider_without_a_connector_says_which_exist(tmp_path: Path) -> None:
    config = tmp_path / "mahnwerk.toml"
    config.write_text("[payments.acme]\nregion = 'eu'\n")
    providers = load_payment_providers(settings(tmp_path), config, {})
    with pytest.raises(ConnectorConfigError, match="No payment connector called 'acme'"):
        providers.get("acme")


@pytest.mark.parametrize("text", ["[payments\n", "payments = 3\n", "[payments]\nx = 1\n"])
def test_broken_settings_are_named(tmp_path: Path, text: str) -> None:
    config = tmp_path / "mahnwerk.toml"
    config.write_text(text)
    with pytest.raises(PaymentConfigError, match=r"mahnwerk\.toml"):
        load_payment_providers(settings(tmp_path), config, {})
