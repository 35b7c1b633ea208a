"""Queries over runs: the run table, the filter language and sorting."""
