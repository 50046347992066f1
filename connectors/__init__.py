"""Mahnwerk channel connectors: email, SMS and letters, each with a sandbox twin."""

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
    "build_connector",
]
