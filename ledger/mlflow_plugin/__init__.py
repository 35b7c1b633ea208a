"""MLflow plugins for `ledger:` URIs (entry points in pyproject.toml): a tracking store, a
model registry store and an artifact repository, thin adapters over the ledger's own API.
Only this package imports mlflow; mlflow loads it through its entry points."""
