"""Runs: the record and its merge rule (record), the journal of a live run (journal,
replay), what a run captures (capture), the run store on `refs/ledger/runs` (store), the
lifecycle of a run (lifecycle, active, execute) and the read-only view (run)."""
