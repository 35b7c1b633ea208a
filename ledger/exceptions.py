"""`ledger.exceptions.MlflowException`, as `mlflow.exceptions.MlflowException`: the ledger's
error base, so `except mlflow.exceptions.MlflowException` catches every ledger error."""

from __future__ import annotations

from ledger.errors import LedgerError as MlflowException

__all__ = ["MlflowException"]
