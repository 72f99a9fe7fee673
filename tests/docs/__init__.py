"""The executed-docs tier: a package, so its conftest is `docs.conftest` and never shadows tests/conftest.py."""
