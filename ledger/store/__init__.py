"""Storage formats of the ledger (metric chunks, ...)."""
