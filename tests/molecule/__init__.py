"""Shared testinfra helpers for the molecule scenarios (not collected by script/test's pytest)."""
