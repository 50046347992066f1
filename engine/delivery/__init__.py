"""Delivery: dispatcher, rendering, outgoing messages, delivery settings and reports, webhooks."""
