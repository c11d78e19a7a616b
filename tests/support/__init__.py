"""Helpers shared by every test suite (unit, integration, console, browser, end-to-end).

A plain package, never a conftest: `pythonpath = ["tests"]` in the root pyproject.toml makes it
importable as `support` from any test module (`from support.polling import eventually`).
"""
