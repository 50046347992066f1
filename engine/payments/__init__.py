"""Payments: intents at providers, provider events, bank statements, allocation to cases."""
