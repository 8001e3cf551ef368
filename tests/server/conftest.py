"""Fixtures of the server tests; the helpers they use live in server_harness.py (a unique module name,
so test files can import them whatever other conftest.py files the suite has)."""

from server_harness import h  # noqa: F401
