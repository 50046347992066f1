"""Compliance review as code: the tone and wording linter over a journey's templates.

Pure (no SQL, no web framework): rule packs are TOML data files in `packs/`, one per language
plus jurisdiction overlays; `docs/compliance.md` tells a compliance team how to write a rule.
"""
