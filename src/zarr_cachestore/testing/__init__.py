"""Checks that third-party strategies can run in their own test suites."""
