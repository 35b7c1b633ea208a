"""The git hooks the ledger installs (`ledger init --hooks`), shipped as package data, and
their installer (install). The repository's top-level `hooks/` holds the same files."""
