"""Fixtures of the canids-testkit tests."""

from canids_testkit.pytest_plugin import chromium  # noqa: F401 (a fixture: the browser)
