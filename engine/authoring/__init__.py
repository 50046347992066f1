"""Authoring a journey: validation and the stored versions."""
