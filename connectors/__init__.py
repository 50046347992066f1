"""Mahnwerk channel connectors: email, SMS, WhatsApp and letters, each with a sandbox twin."""

from connectors.base import (
    ConnectorConfigError,
    ConnectorError,
    EmailConnector,
    EmailMessage,
    GiroPayment,
    InvalidAddressError,
    LetterConnector,
    LetterMessage,
    PostalAddress,
    SendResult,
    SmsConnector,
    SmsMessage,
    WhatsAppConnector,
    WhatsAppMessage,
)
from connectors.registry import build_connector

__all__ = [
    "ConnectorConfigError",
    "ConnectorError",
    "EmailConnector",
    "EmailMessage",
    "GiroPayment",
    "InvalidAddressError",
    "LetterConnector",
    "LetterMessage",
    "PostalAddress",
    "SendResult",
    "SmsConnector",
    "SmsMessage",
    "WhatsAppConnector",
    "WhatsAppMessage",
    "build_connector",
]
