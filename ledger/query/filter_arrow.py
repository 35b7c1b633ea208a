"""Evaluate parsed filters and sort keys on a run table (a ``pyarrow.Table``, one row per run).

One evaluation path: a filter becomes a ``pyarrow.compute.Expression`` for ``Table.filter`` (or a
dataset scan). Semantics, kept identical to MLflow where MLflow defines them:

* A comparison on a key the run lacks (a null, or a column absent from the table) is unknown, and
  logic is Kleene's: ``NOT unknown`` is unknown, ``unknown OR true`` is true, ``unknown AND false``
  is false. Rows whose result is unknown are not selected, so a run that lacks a key never matches
  a comparison on it, negated or not (MLflow's file store returns False when the value is None;
  its SQL store inner-joins on the key). ``IS [NOT] NULL`` (an extension) tests presence.
* Metrics compare as IEEE floats: NaN is never equal, greater or smaller, and ``!=`` anything.
  This is MLflow's file store (Python float operators). MLflow's SQL stores differ: they save NaN
  as 0 (with an ``is_nan`` flag the filter ignores) and +-inf as +-1.797e308, so there
  ``metrics.x = 0`` matches a NaN and ``metrics.x < 1e308`` misses -inf. We keep IEEE.
* ``=``/``!=``/``IN`` compare strings exactly (code points). ``LIKE`` is case-sensitive, ``ILIKE``
  not (Unicode simple case folding); ``%`` matches any run of characters (newlines included), ``_``
  exactly one, and every other character only itself: there is no escape character (as in SQLite,
  MLflow's default SQL store; MLflow's file store turns patterns into unescaped regexes, where
  ``.`` would match anything -- a bug we do not copy).
* ``datasets.name|digest|context`` hold when some input of the run satisfies the comparison
  (MLflow's stores: an ``any`` over the inputs, an inner join in SQL), each comparison on its
  own: ``datasets.name = 'a' AND datasets.context = 'eval'`` does not ask for one input that is
  both. ``!=``/``NOT IN``/``NOT LIKE`` ask for some input that differs. A run without inputs
  (or, for ``context``, without an input that has a context) is unknown, so it never matches.
"""

from __future__ import annotations

import functools
import operator
import string
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ledger.errors import InvalidInputError
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
)
from ledger.query.table import ITEM_END, ITEM_START
from ledger.runs.mlflow_tags import FILTER_COLUMNS as SYSTEM_TAG_COLUMNS

_NULL = pc.scalar(pa.scalar(None, pa.bool_()))
_STRING_TYPES = (pa.string(), pa.large_string())
_COMPARE = {
    "=": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _column_type(schema: pa.Schema, column: str) -> pa.DataType | None:
    """The column's type, or None when it is absent (or all-null typed): read as all-null."""
    index = schema.get_field_index(column)
    if index < 0:
        return None
    type_ = schema.field(index).type
    return None if pa.types.is_null(type_) else type_


def _derived(field: Field) -> Field | None:
    """MLflow's system tags (`tags.mlflow.user`, …) are answered from the record's columns
    when no run stores them as a tag (ledger/runs/mlflow_tags.py)."""
    column = SYSTEM_TAG_COLUMNS.get(field.key) if field.kind == "tag" else None
    return None if column is None else Field(field.kind, field.key, column, False)


def _operand(field: Field, schema: pa.Schema) -> pc.Expression | None:
    derived = _derived(field)
    if derived is not None and _column_type(schema, derived.column) is not None:
        own = _plain_operand(derived, schema)
        stored = _plain_operand(field, schema)
        return own if stored is None else pc.Expression._call("coalesce", [stored, own])
    return _plain_operand(field, schema)


def _plain_operand(field: Field, schema: pa.Schema) -> pc.Expression | None:
    type_ = _column_type(schema, field.column)
    if type_ is None:
        return None
    expr = pc.field(field.column)
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
        expr = expr.cast(type_)
    if field.numeric:
        if not (pa.types.is_integer(type_) or pa.types.is_floating(type_)):
            raise InvalidInputError(f"column {field.column!r} is {type_}, expected a number")
    elif type_ not in _STRING_TYPES:
        expr = expr.cast(pa.string())
    return expr


def _like_regex(pattern: str) -> str:
    """A LIKE pattern as an anchored RE2 regex: % is .*, _ is ., all else literal.

    Not pc.match_like: it reads a backslash as an escape, and its shortcut for '%suffix'
    patterns misses a suffix written with one (pyarrow 14 to 26 at least).
    """
    return "(?s)\\A" + _like_body(pattern, ".") + "\\z"


def _like_body(pattern: str, one: str) -> str:
    """The regex of a LIKE pattern, `one` being the regex of any single character."""
    return "".join(one + "*" if ch == "%" else one if ch == "_" else _literal(ch)
                   for ch in pattern)


def _literal(ch: str) -> str:
    # RE2 reads a backslash before any ASCII punctuation as that character itself.
    return "\\" + ch if ch in string.punctuation else ch


def _some_item(column: pc.Expression, op: str, value: float | int | str | tuple[str, ...]
               ) -> pc.Expression:
    """Whether some item of a delimited item list (ledger/query/table.py) satisfies `op`.

    The positive form is a regex over the whole string, one item between the delimiters; a
    negated one (!=, NOT IN, NOT LIKE) holds when fewer items match than there are items.
    """
    item = f"[^{ITEM_START}{ITEM_END}]"
    if op.endswith("LIKE"):
        assert isinstance(value, str)
        body = _like_body(value, item)
    else:
        values = value if isinstance(value, tuple) else (str(value),)
        body = "(?:" + "|".join("".join(map(_literal, v)) for v in values) + ")"
    regex = f"(?s){ITEM_START}{body}{ITEM_END}"
    ignore_case = op.endswith("ILIKE")
    if op in ("=", "IN", "LIKE", "ILIKE"):
        return pc.match_substring_regex(column, pattern=regex, ignore_case=ignore_case)
    matching = pc.count_substring_regex(column, pattern=regex, ignore_case=ignore_case)
    result: pc.Expression = pc.count_substring(column, pattern=ITEM_START) > matching
    return result


def _comparison(node: Comparison, schema: pa.Schema) -> pc.Expression:
    column = _operand(node.field, schema)
    op, value = node.op, node.value
    if op in ("IS NULL", "IS NOT NULL"):
        if column is None:
            return pc.scalar(op == "IS NULL")
        return column.is_null() if op == "IS NULL" else column.is_valid()
    if column is None:
        return _NULL
    if node.field.kind == "dataset":
        assert value is not None
        return _some_item(column, op, value)
    if op in _COMPARE:
        assert isinstance(value, (int, float, str))
        if node.field.kind == "metric":
            literal = pa.scalar(float(value), pa.float64())
        elif isinstance(value, int):
            literal = pa.scalar(value, pa.int64())
        else:
            literal = pa.scalar(value)
        result: pc.Expression = _COMPARE[op](column, pc.scalar(literal))
        return result
    if op.endswith("LIKE"):
        assert isinstance(value, str)
        ignore_case = op.endswith("ILIKE")
        like = pc.match_substring_regex(column, pattern=_like_regex(value), ignore_case=ignore_case)
        return ~like if op.startswith("NOT") else like
    assert isinstance(value, tuple) and op in ("IN", "NOT IN")
    # is_in() says false for a null input; Kleene logic wants unknown there.
    found = pc.is_in(column, value_set=pa.array(value, pa.string()))
    member = pc.if_else(column.is_valid(), found, _NULL)
    return ~member if op == "NOT IN" else member


def _compile(node: Node, schema: pa.Schema) -> pc.Expression:
    if isinstance(node, Comparison):
        return _comparison(node, schema)
    if isinstance(node, Not):
        return ~_compile(node.child, schema)
    parts = [_compile(child, schema) for child in node.children]
    # & and | on expressions are and_kleene / or_kleene.
    return functools.reduce(operator.and_ if isinstance(node, And) else operator.or_, parts)


def to_expression(node: Node | None, schema: pa.Schema) -> pc.Expression | None:
    """Compile a parsed filter for ``Table.filter`` against a table of this schema.

    ``None`` (the empty filter) compiles to ``None``: select everything. Columns missing from the
    schema read as all-null.
    """
    if node is None:
        return None
    assert isinstance(node, (Comparison, And, Or, Not))
    return _compile(node, schema)


def filter_table(table: pa.Table, where: str | Node | None) -> pa.Table:
    """The rows of ``table`` that match the filter (text, or an already parsed node)."""
    node = parse_filter(where) if where is None or isinstance(where, str) else where
    expr = to_expression(node, table.schema)
    return table if expr is None else table.filter(expr)


def _sort_columns(table: pa.Table, key: Field) -> list[pa.ChunkedArray]:
    """A key's columns for the sort: a rank (0 value, 1 NaN, 2 null) then the value itself."""
    derived = _derived(key)
    if derived is not None and _column_type(table.schema, derived.column) is not None:
        if _column_type(table.schema, key.column) is None:
            key = derived
        else:  # a stored tag wins, the record answers for the others
            stored = table.column(key.column).cast(pa.string())
            values = pc.coalesce(stored, table.column(derived.column).cast(pa.string()))
            rank = pc.if_else(pc.is_null(values), 2, 0)
            return [rank.cast(pa.int8()), values]
    type_ = _column_type(table.schema, key.column)
    if type_ is None:
        return []
    values = table.column(key.column)
    if pa.types.is_dictionary(type_):
        values = values.cast(type_.value_type)
    rank = pc.if_else(pc.is_null(values), 2, 0)
    if pa.types.is_floating(values.type):
        rank = pc.if_else(pc.is_nan(values), 1, rank)
    return [rank.cast(pa.int8()), values]


def sort_table(
    table: pa.Table, order_by: Sequence[str] | Sequence[SortKey] | str | None
) -> pa.Table:
    """Sort runs as MLflow's ``search_runs`` does.

    Each key sorts its values in its direction, then NaN, then missing values -- last in either
    direction (MLflow's file store; its SQL store also puts NaN and nulls last). Ties, and no
    ``order_by`` at all, fall back to ``start_time DESC`` then ``run_id ASC``. Keys on columns the
    table lacks change nothing.
    """
    if table.num_rows < 2:
        return table
    entries: list[str | SortKey] = [order_by] if isinstance(order_by, str) else list(order_by or [])
    keys = [k if isinstance(k, SortKey) else parse_order_by([k])[0] for k in entries]
    tie_breaks = [SortKey(Field("attribute", "start_time", "start_time", True), False),
                  SortKey(Field("attribute", "run_id", "run_id", False), True)]  # fmt: skip
    arrays: dict[str, pa.ChunkedArray] = {}
    sort_keys: list[tuple[str, str]] = []
    for key in [*keys, *tie_breaks]:
        columns = _sort_columns(table, key.field)
        if not columns:
            continue
        n = len(arrays)
        arrays[f"k{n}"], arrays[f"k{n + 1}"] = columns
        direction = "ascending" if key.ascending else "descending"
        sort_keys += [(f"k{n}", "ascending"), (f"k{n + 1}", direction)]
    if not sort_keys:
        return table
    indices = pc.sort_indices(pa.table(arrays), sort_keys=sort_keys)
    return table.take(indices)
