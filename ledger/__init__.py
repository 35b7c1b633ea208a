"""ledger: a git-backed ML experiment ledger (placeholder during bootstrap)."""
