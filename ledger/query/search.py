"""search_runs: filter, sort and limit the run table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ledger.errors import InvalidInputError
from ledger.query import table

if TYPE_CHECKING:
    from ledger.api import Ledger


def search(ledger: Ledger, where: str | None, experiment: str | None,
           order_by: Sequence[str] | None, max_results: int | None,
           include_deleted: bool) -> pa.Table:
    if max_results is not None and max_results < 0:
        raise InvalidInputError(f"max_results must be positive, not {max_results}")
    root = ledger.store.root(ledger.store.head())
    records = [f.record for f in ledger.store.folders(root)
               if (include_deleted or not f.record.deleted)
               and (experiment is None or f.record.experiment == experiment)]
    result = table.build(records)
    if where:
        raise InvalidInputError("search filters are not supported yet")
    if order_by:
        raise InvalidInputError("custom sort keys are not supported yet")
    indices = pc.sort_indices(result, sort_keys=[("start_time", "descending"),
                                                 ("run_id", "ascending")])
    result = result.take(indices)
    if max_results is not None:
        result = result.slice(0, max_results)
    return result.drop_columns(["deleted"]) if not include_deleted else result
