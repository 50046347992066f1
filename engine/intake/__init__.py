"""Intake: cases and events as host systems, imports and the portal hand them over."""
