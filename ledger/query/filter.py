"""The search filter language of ``search_runs``/``--where`` and its sort keys (SPEC section 5).

Parsing (:func:`parse_filter`, :func:`parse_order_by`, :func:`referenced_columns`) is pure Python
and imports no pyarrow, so a CLI reports a syntax error at once; the functions that touch tables
(:func:`to_expression`, :func:`filter_table`, :func:`sort_table`) load pyarrow when first called.
The grammar and its differences from MLflow are described in :mod:`ledger.query.filter_parse`,
the evaluation semantics (nulls, NaN, LIKE, sorting) in :mod:`ledger.query.filter_arrow`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ledger.query.filter_parse import (
    And,
    Comparison,
    Field,
    Node,
    Not,
    Or,
    SortKey,
    parse_filter,
    parse_order_by,
    referenced_columns,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = [
    "And",
    "Comparison",
    "Field",
    "Node",
    "Not",
    "Or",
    "SortKey",
    "filter_table",
    "parse_filter",
    "parse_order_by",
    "referenced_columns",
    "sort_table",
    "to_expression",
]


def to_expression(node: Node | None, schema: pa.Schema) -> pc.Expression | None:
    """Compile a parsed filter to an Arrow expression for tables of ``schema`` (None: match all).

    Columns the schema lacks read as all-null, so comparisons on them never match.
    """
    from ledger.query import filter_arrow

    return filter_arrow.to_expression(node, schema)


def filter_table(table: pa.Table, where: str | Node | None) -> pa.Table:
    """The runs (rows) of ``table`` matching ``where``, a filter text or a parsed node."""
    from ledger.query import filter_arrow

    return filter_arrow.filter_table(table, where)


def sort_table(
    table: pa.Table, order_by: Sequence[str] | Sequence[SortKey] | str | None
) -> pa.Table:
    """Sort runs by ``order_by`` (e.g. ``["metrics.acc DESC", "params.lr"]``) as MLflow does.

    Missing values (then NaN before them) go last in either direction; ties and an empty
    ``order_by`` fall back to ``start_time DESC``, then ``run_id``.
    """
    from ledger.query import filter_arrow

    return filter_arrow.sort_table(table, order_by)
