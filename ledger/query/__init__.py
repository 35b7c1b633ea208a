"""Querying the run table: the search filter language and sort keys."""

from ledger.query.filter import (
    And,
    Comparison,
    Field,
    Node,
    Not,
    Or,
    SortKey,
    filter_table,
    parse_filter,
    parse_order_by,
    referenced_columns,
    sort_table,
    to_expression,
)

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
