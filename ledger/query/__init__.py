"""Querying the run table: the search filter language and sort keys (see `filter`)."""

from ledger.query.filter import *  # noqa: F403
from ledger.query.filter import __all__ as __all__
