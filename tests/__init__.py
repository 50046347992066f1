"""Mahnwerk's tests, a regular package: `tests.*` never resolves to a dependency's `tests`."""
