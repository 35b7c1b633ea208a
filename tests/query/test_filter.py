"""The search filter language: MLflow's examples, error positions, sorting, and a property test
that checks ``filter_table`` against a naive three-valued evaluator over Python dicts."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.errors import FilterSyntaxError, InvalidInputError
from ledger.query import (
    And,
    Comparison,
    Not,
    Or,
    filter_table,
    parse_filter,
    parse_order_by,
    referenced_columns,
    sort_table,
    to_expression,
)

NAN, INF = float("nan"), float("inf")
STRING_COLUMNS = ("run_id", "experiment", "name", "status", "user", "source.commit")


def make_table(
    rows: list[dict[str, Any]],
    null_typed: frozenset[str] = frozenset(),
    names: list[str] | None = None,
) -> pa.Table:
    """A run table from row dicts; a key absent from every row is absent from the table."""
    if names is None:
        names = []
        for row in rows:
            names += [k for k in row if k not in names]
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in null_typed:
            type_: pa.DataType = pa.null()
        elif name.startswith("metrics."):
            type_ = pa.float64()
        elif name in ("start_time", "end_time"):
            type_ = pa.int64()
        else:
            type_ = pa.string()
        columns[name] = pa.array(values, type_)
    return pa.table(columns)


def ids(table: pa.Table) -> list[str]:
    return [str(v) for v in table.column("run_id").to_pylist()]


def selected(table: pa.Table, where: str | None) -> set[str]:
    return set(ids(filter_table(table, where)))


# --- MLflow's documented examples --------------------------------------------------------------
# The runs of the "search-run-guide" script in MLflow's docs (docs/docs/classic-ml/search/
# search-runs/index.mdx), np.arange arithmetic included, plus run attributes of our own.


def guide_rows() -> list[dict[str, Any]]:
    models = ["GPT-2", "GPT-3", "GPT-3.5", "GPT-4"] + [None] * 6
    tasks = ["classification", "regression", "causal lm"] + [None] * 7
    rows = []
    for i in range(10):
        loss = 1 + i * -0.1
        rows.append(
            {
                "run_id": f"{i:x}" * 8,
                "experiment": "search-run-guide",
                "name": ["alpha", "beta", "gamma", "my-run"][i % 4],
                "status": "FAILED" if i == 9 else "FINISHED",
                "user": "user1" if i < 3 else "michael",
                "start_time": 1664067852000 + i * 1000,
                "end_time": 1664067852500 + i * 1000,
                "source.commit": "c0ffee" if i % 2 else "deadbeef",
                "metrics.loss": loss,
                "metrics.accuracy": 0 + i * 0.1,
                "metrics.log-scale-loss": math.log(loss),
                "metrics.f1 score": 0 + i * 0.1,
                "params.batch_size": "2" if i < 5 else "4",
                "params.learning rate": ["0.001", "0.01"][i % 2],
                "params.model": models[i],
                "tags.task": tasks[i],
                "tags.environment": "notebook" if i < 5 else None,
                "tags.mlflow.user": "john@mlflow.com" if i == 0 else None,
            }
        )
    return rows


GUIDE = make_table(guide_rows())
R = [f"{i:x}" * 8 for i in range(10)]


def runs(*indices: int) -> set[str]:
    return {R[i] for i in indices}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("metrics.loss > 0.8", runs(0, 1)),
        ("metrics.accuracy > 0.72", runs(8, 9)),
        ('metrics."accuracy" > 0.72', runs(8, 9)),
        ("metrics.loss <= 0.15", runs(9)),
        ("metrics.`log-scale-loss` <= 0", runs(*range(10))),
        ("metrics.`f1 score` >= 0.5", runs(5, 6, 7, 8, 9)),
        ("metrics.`f1 score` > 0.5", runs(6, 7, 8, 9)),
        ("metrics.accuracy > 0.72 AND metrics.loss <= 0.15", runs(9)),
        ("metrics.accuracy > 0.92", set()),
        ("metrics.loss <= 0.15 AND metrics.loss >= 0.1", set()),  # 1 + 9 * -0.1 < 0.1
        # batch_size is a param: as a metric the key is missing, so nothing matches
        ("metrics.accuracy > 0.72 AND metrics.batch_size != 0", set()),
        ('params.batch_size = "2"', runs(0, 1, 2, 3, 4)),
        ('params.model LIKE "GPT%"', runs(0, 1, 2, 3)),
        ('params.model ILIKE "gPt%"', runs(0, 1, 2, 3)),
        ('params.model LIKE "GPT%" AND params.batch_size = "2"', runs(0, 1, 2, 3)),
        ('params.model != "None"', runs(0, 1, 2, 3)),  # MLflow logs None as "None"; we as null
        ("params.model = 'GPT-4'", runs(3)),
        ('params."learning rate" = "0.01"', runs(1, 3, 5, 7, 9)),
        ('tags."environment" = "notebook"', runs(0, 1, 2, 3, 4)),
        ('tags.environment = "notebook"', runs(0, 1, 2, 3, 4)),
        ('tags.task = "Classification"', set()),  # = and LIKE are case-sensitive
        ('tags.task ILIKE "classif%"', runs(0)),
        ("tags.`mlflow.user` = 'john@mlflow.com'", runs(0)),
        ("tags.\"mlflow.user\" = 'john@mlflow.com'", runs(0)),
        ("tags.mlflow.user = 'john@mlflow.com'", runs(0)),
        ('attributes.status = "ACTIVE"', set()),
        ('attributes.status = "FINISHED"', runs(*range(9))),
        ('attributes.status = "FAILED"', runs(9)),
        ("attributes.status = 'FAILED'", runs(9)),
        ('attributes.user_id LIKE "user1"', runs(0, 1, 2)),
        ("attributes.user_id = 'user1'", runs(0, 1, 2)),
        ('attributes.run_name = "my-run"', runs(3, 7)),
        ("attributes.run_id = '33333333'", runs(3)),
        ("attributes.run_id IN ('33333333', '55555555')", runs(3, 5)),
        ("attributes.run_id NOT IN ('33333333', '55555555')", runs(0, 1, 2, 4, 6, 7, 8, 9)),
        ("attributes.start_time >= 1664067858000", runs(6, 7, 8, 9)),
        ("attributes.end_time < 1664067852747", runs(0)),
        ("attributes.created > 1664067859000", runs(8, 9)),
        ("attributes.Created > 1664067859000", runs(8, 9)),
        ("attributes.`run_name` IN ('alpha', 'beta', 'gamma')", runs(0, 1, 2, 4, 5, 6, 8, 9)),
        ("attributes.`run name` IN ('alpha', 'gamma')", runs(0, 2, 4, 6, 8)),
        ("attributes.`Run name` IN ('beta')", runs(1, 5, 9)),
        ("attributes.`Run Name` IN ('beta')", runs(1, 5, 9)),
        (
            """
attributes.run_id IN ('22222222','33333333')
  AND metrics.loss > 0.3
  AND metrics."f1 score" < 0.5
  AND params.model LIKE "GPT%"
""",
            runs(2, 3),
        ),
        # other documented spellings (older MLflow docs, R and Java examples): valid, no match
        ('params.alpha = "0.3" and params.lambda = "0.001" and metrics.error <= 0.05', set()),
        ("metrics.rmse < 0.9 and tags.production = 'true'", set()),
        ("metrics.accuracy_score < 99.90", set()),
        ("metrics.`prediction accuracy` >= 0.945 and params.layers = '10'", set()),
        ('metrics."2019-04-02 error rate" < 1', set()),
        ("params.\"model-type\" = 'x' and metrics.`error rate` < 1", set()),
        ("tags.`model` LIKE 'sklearn%' and tags.`type` ILIKE '%Logistic%'", set()),
        # our extensions: OR, NOT, parentheses, IN on params, IS NULL, ledger attributes
        ("params.model = 'GPT-2' OR params.model = 'GPT-4'", runs(0, 3)),
        ("NOT params.model LIKE 'GPT-3%'", runs(0, 3)),
        ("params.model NOT LIKE 'GPT-3%'", runs(0, 3)),
        ("params.model IN ('GPT-2', \"GPT-4\")", runs(0, 3)),
        ("params.model IS NULL", runs(4, 5, 6, 7, 8, 9)),
        (
            "(tags.task IS NOT NULL OR metrics.loss < 0.2) and not status = 'FAILED'",
            runs(0, 1, 2, 8),
        ),
        ("experiment = 'search-run-guide' AND source.commit = 'c0ffee'", runs(1, 3, 5, 7, 9)),
        ("name LIKE '%a' and user = 'michael'", runs(4, 5, 6, 8, 9)),
        ("", runs(*range(10))),
    ],
)
def test_mlflow_documented_filters(where: str, expected: set[str]) -> None:
    assert selected(GUIDE, where) == expected


@pytest.mark.parametrize(
    "where",
    [
        "metric.loss > 0.5",
        "metrics.loss > 0.5",
        "`metrics`.loss > 0.5",
        "param.batch_size = '2'",
        "params.batch_size = '2'",
        "parameter.batch_size = '2'",
        "parameters.batch_size = '2'",
        "tag.task = 'regression'",
        "tags.task = 'regression'",
        "attribute.status = 'FINISHED'",
        "attributes.status = 'FINISHED'",
        "attr.status = 'FINISHED'",
        "run.status = 'FINISHED'",
        "status = 'FINISHED'",
        "metrics.loss>0.5",
        "metrics.loss > 5e-1",
        "metrics.loss > .5",
        "metrics.loss > 5E-1 and params.batch_size='2'",
        "metrics.loss > -1 AND metrics.loss > -1.0e0",
    ],
)
def test_prefix_aliases_and_number_forms_parse(where: str) -> None:
    assert parse_filter(where) is not None


def test_keywords_are_case_insensitive() -> None:
    a = "metrics.loss > 0.5 AND NOT params.model IN ('GPT-2') OR tags.task LIKE 'r%'"
    b = "metrics.loss > 0.5 and not params.model in ('GPT-2') oR tags.task like 'r%'"
    assert parse_filter(a) == parse_filter(b)
    assert selected(GUIDE, a) == runs(1, 2, 3)


def test_precedence_not_over_and_over_or() -> None:
    node = parse_filter("status = 'a' OR NOT status = 'b' AND status = 'c'")
    assert isinstance(node, Or)
    assert isinstance(node.children[1], And)
    assert isinstance(node.children[1].children[0], Not)
    grouped = parse_filter("(status = 'a' OR NOT status = 'b') AND status = 'c'")
    assert isinstance(grouped, And) and isinstance(grouped.children[0], Or)


def test_values_and_quoting() -> None:
    node = parse_filter('params.`it``s` = \'it\'\'s\' AND tags."a""b" = "say ""hi"""')
    assert isinstance(node, And)
    first, second = node.children
    assert isinstance(first, Comparison) and isinstance(second, Comparison)
    # string literals as MLflow reads them: the text between the outer quotes, as written
    assert (first.field.column, first.value) == ("params.it`s", "it''s")
    assert (second.field.column, second.value) == ('tags.a"b', 'say ""hi""')
    start = parse_filter("start_time > 12")
    assert isinstance(start, Comparison) and start.value == 12 and isinstance(start.value, int)
    metric = parse_filter("metrics.m = 12")
    assert isinstance(metric, Comparison) and isinstance(metric.value, float)


def test_referenced_columns() -> None:
    node = parse_filter(
        "metrics.`val loss` < 1 AND (params.lr = '1' OR NOT tags.mlflow.user IS NULL) "
        "AND run_name = 'x' AND user_id = 'u' AND created > 0 AND source.commit = 'c'"
    )
    assert referenced_columns(node) == {
        "metrics.val loss",
        "params.lr",
        "tags.mlflow.user",
        "name",
        "user",
        "start_time",
        "source.commit",
    }
    assert referenced_columns(None) == frozenset()


def test_empty_filter_matches_all() -> None:
    for where in (None, "", "   \n"):
        assert parse_filter(where) is None
        assert to_expression(parse_filter(where), GUIDE.schema) is None
        assert filter_table(GUIDE, where).num_rows == 10


# --- null, NaN, LIKE semantics -----------------------------------------------------------------

SEMANTIC_ROWS: list[dict[str, Any]] = [
    {"run_id": "a", "start_time": 3, "metrics.m": 1.0, "params.p": "x.y", "tags.t": "50%"},
    {"run_id": "b", "start_time": 2, "metrics.m": NAN, "params.p": "xzy", "tags.t": "50_"},
    {"run_id": "c", "start_time": 1, "metrics.m": INF, "params.p": "a\\b", "tags.t": "Ab\nC"},
    {"run_id": "d", "start_time": 0, "metrics.m": None, "params.p": None, "tags.t": None},
]
SEM = make_table(SEMANTIC_ROWS)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("metrics.m > 0", {"a", "c"}),
        ("metrics.m != 1", {"b", "c"}),  # IEEE: NaN != 1
        ("metrics.m = 1", {"a"}),
        ("NOT metrics.m > 0", {"b"}),  # NaN > 0 is false; null stays unknown
        ("metrics.m >= 1e308", {"c"}),
        ("metrics.m < -1e308", set()),
        ("metrics.m IS NULL", {"d"}),  # NaN is a value
        ("metrics.ghost IS NULL", {"a", "b", "c", "d"}),
        ("metrics.ghost > 0", set()),
        ("NOT metrics.ghost > 0", set()),
        ("metrics.ghost > 0 OR params.p = 'xzy'", {"b"}),
        ("NOT (metrics.ghost > 0 AND params.p = 'xzy')", {"a", "c"}),
        ("params.p != 'x.y'", {"b", "c"}),
        ("params.p NOT IN ('x.y')", {"b", "c"}),
        ("NOT params.p IN ('x.y')", {"b", "c"}),
        ("params.p LIKE 'x.y'", {"a"}),  # '.' is literal
        ("params.p LIKE 'x_y'", {"a", "b"}),
        ("params.p LIKE 'a\\b'", {"c"}),  # backslash is literal, not an escape
        ("params.p LIKE 'a\\%'", {"c"}),
        ("tags.t LIKE '50%'", {"a", "b"}),
        ("tags.t LIKE '%\\%'", set()),
        ("tags.t LIKE '%_'", {"a", "b", "c"}),
        ("tags.t LIKE 'ab%'", set()),
        ("tags.t ILIKE 'ab%'", {"c"}),  # % spans the newline
        ("tags.t ILIKE 'AB_C'", {"c"}),
        ("params.ghost LIKE '%'", set()),
        ("tags.ghost NOT IN ('x')", set()),
        ("params.p IS NOT NULL AND tags.ghost IS NULL", {"a", "b", "c"}),
    ],
)
def test_null_nan_and_like_semantics(where: str, expected: set[str]) -> None:
    assert selected(SEM, where) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("%\\", {"a", "b"}),  # ends with a backslash (pyarrow's match_like misses these)
        ("_\\", {"a"}),
        ("%\\\\", {"b"}),
        ("x\\%", {"a", "b"}),
        ("(a+b)*[c]?^$|{2}.", {"c"}),  # regex syntax is literal
        ("(a_b)*%", {"c"}),
        ("%{_}.", {"c"}),
        ("%.", {"c"}),
        (".%", set()),
    ],
)
def test_like_special_characters(pattern: str, expected: set[str]) -> None:
    rows: list[dict[str, Any]] = [
        {"run_id": "a", "params.p": "x\\"},
        {"run_id": "b", "params.p": "x\\\\"},
        {"run_id": "c", "params.p": "(a+b)*[c]?^$|{2}."},
    ]
    table = make_table(rows)
    assert selected(table, f"params.p LIKE '{pattern}'") == expected
    assert selected(table, f"params.p ILIKE '{pattern.upper()}'") == expected


def test_unusual_column_types() -> None:
    rows: list[dict[str, Any]] = [
        {"run_id": "a", "params.p": "x", "params.n": None},
        {"run_id": "b", "params.p": "y"},
    ]
    table = make_table(rows, null_typed=frozenset({"params.n"}))
    assert selected(table, "params.n IS NULL") == {"a", "b"}
    assert selected(table, "params.n = 'x'") == set()
    encoded = table.set_column(1, "params.p", table.column("params.p").dictionary_encode())
    assert selected(encoded, "params.p IN ('y') OR params.p LIKE 'x'") == {"a", "b"}
    assert ids(sort_table(encoded, ["params.p DESC"])) == ["b", "a"]
    numbers = pa.table({"run_id": ["a"], "params.k": pa.array([3], pa.int64())})
    assert selected(numbers, "params.k = '3'") == {"a"}
    wrong = pa.table({"run_id": ["a"], "metrics.m": ["1.0"]})
    with pytest.raises(InvalidInputError, match="expected a number"):
        filter_table(wrong, "metrics.m > 0")


def test_to_expression_is_usable_directly() -> None:
    expr = to_expression(parse_filter("metrics.m > 0 and params.p like 'x%'"), SEM.schema)
    assert isinstance(expr, pc.Expression)
    assert ids(SEM.filter(expr)) == ["a"]


def test_parsing_does_not_import_pyarrow() -> None:
    code = (
        "import sys\n"
        "from ledger.query import parse_filter, parse_order_by\n"
        "from ledger.errors import FilterSyntaxError\n"
        "parse_filter(\"metrics.acc > 0.9 and params.model = 'cnn'\")\n"
        "parse_order_by(['metrics.acc DESC'])\n"
        "try:\n"
        "    parse_filter('metrics.acc >')\n"
        "except FilterSyntaxError:\n"
        "    pass\n"
        "assert 'pyarrow' not in sys.modules, 'pyarrow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "position", "fragment"),
    [
        ("metrics.acc >", 14, "expected a value after '>'"),
        ("metrics.acc > 0.9 AND metrics.b >", 34, "expected a value after '>'"),
        ("params.lr > 0.1", 11, "comparator '>' is not allowed for params"),
        ("metrics.acc LIKE 'x'", 13, "comparator 'LIKE' is not allowed for metrics"),
        ("metrics.acc IN ('1')", 13, "comparator 'IN' is not allowed"),
        ("start_time LIKE '1%'", 12, "not allowed for the attribute 'start_time'"),
        ("metrics.acc = 'x'", 15, "numeric"),
        ('created > "x"', 11, "numeric"),
        ("params.lr = 0.1", 13, "quote the value"),
        ("status = FINISHED", 10, "expected a quoted string"),
        ("tags.t = `x`", 10, "backticks quote names"),
        ("metrics.a-b > 1", 10, "unexpected character '-'"),
        ("metrics.acc > 0.9 && metrics.b > 1", 19, "unexpected character '&'"),
        ("metrics.acc == 1", 13, "unknown operator '=='"),
        ("metrics.acc <> 1", 13, "unknown operator '<>'"),
        ("foo.bar = 'x'", 1, "unknown key type 'foo'"),
        ("params.x = 'a' and acc > 1", 20, "unknown attribute 'acc'"),
        ("attributes.lifecycle_stage = 'active'", 1, "unknown attribute 'lifecycle_stage'"),
        ("datasets.name > 'x'", 15, "comparator '>' is not allowed for datasets"),
        ("dataset.size = 'x'", 1, "unknown dataset key 'size'"),
        ("datasets.digest = 12", 19, "holds strings"),
        ("attributes.artifact_uri < 'x'", 25, "not allowed for the attribute 'artifact_uri'"),
        ("tags.'env' = 'x'", 6, "expected a name after 'tags.'"),
        ("params.p = 'abc", 12, "unterminated string"),
        ("params.`p = 'abc'", 8, "unterminated"),
        ("(metrics.a > 1", 15, "expected ')' to close the '(' at position 1"),
        ("metrics.a > 1)", 14, "unbalanced ')'"),
        ("metrics.a > 1 metrics.b > 2", 15, "expected AND, OR"),
        ("metrics.a > 1 AND", 18, "expected a comparison"),
        ("AND metrics.a > 1", 1, "expected a comparison"),
        ("()", 2, "expected a comparison"),
        ("NOT", 4, "expected a comparison"),
        ("metrics.a", 10, "expected a comparator"),
        ("metrics.a 1", 11, "expected a comparator"),
        ("params.p IN 'a'", 13, "expected '(' after IN"),
        ("params.p IN ()", 14, "IN needs at least one value"),
        ("params.p IN ('a' 'b')", 18, "expected ',' or ')'"),
        ("params.p IN ('a', 2)", 19, "expected a quoted string in the IN list"),
        ("params.p IS 'a'", 13, "expected NULL after IS"),
        ("params.p NOT = 'a'", 10, "expected a comparator"),
        ("metrics.a > 1.2.3", 13, "invalid number"),
        ("metrics.a > 12abc", 13, "invalid number"),
        ("tags.`` = 'x'", 1, "empty name"),
        ("metrics.a > 1 OR OR metrics.b > 1", 18, "expected a comparison"),
    ],
)
def test_syntax_errors_point_at_the_problem(where: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(where)
    error = info.value
    message = str(error)
    assert message.startswith(f"invalid filter at position {position}: "), message
    assert fragment in message
    assert "\n" not in message
    assert error.position == position and error.text == where
    assert isinstance(error, InvalidInputError)


def test_caret_marks_the_position() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("metrics.acc > 0.9 AND\n\tparams.lr > 0.1")
    assert info.value.position == 34
    assert info.value.caret == "\tparams.lr > 0.1\n\t          ^"
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter("metrics.acc >")
    assert info.value.caret == "metrics.acc >\n             ^"


# --- sorting -----------------------------------------------------------------------------------

SORT_ROWS: list[dict[str, Any]] = [
    {"run_id": "a", "start_time": 1, "metrics.m": 2.0, "params.p": "b"},
    {"run_id": "b", "start_time": 3, "metrics.m": NAN, "params.p": "a"},
    {"run_id": "c", "start_time": 2, "metrics.m": None, "params.p": None},
    {"run_id": "d", "start_time": 3, "metrics.m": -1.0, "params.p": "b"},
    {"run_id": "e", "start_time": 0, "metrics.m": 2.0, "params.p": "B"},
]
SORT = make_table(SORT_ROWS)


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["b", "d", "c", "a", "e"]),  # start_time DESC, then run_id
        ([], ["b", "d", "c", "a", "e"]),
        (["metrics.m"], ["d", "a", "e", "b", "c"]),  # values, then NaN, then null
        (["metrics.m ASC"], ["d", "a", "e", "b", "c"]),
        (["metrics.m DESC"], ["a", "e", "d", "b", "c"]),  # still NaN then null last
        (["metrics.m desc"], ["a", "e", "d", "b", "c"]),
        (["params.p"], ["e", "b", "d", "a", "c"]),  # code point order: 'B' < 'a' < 'b'
        (["params.p DESC", "metrics.m DESC"], ["a", "d", "b", "e", "c"]),
        (["params.p DESC", "start_time"], ["a", "d", "b", "e", "c"]),
        (["params.p DESC", "attributes.created DESC"], ["d", "a", "b", "e", "c"]),
        (["metrics.ghost DESC"], ["b", "d", "c", "a", "e"]),  # absent column: no effect
        (["metrics.ghost", "params.p"], ["e", "b", "d", "a", "c"]),
        (["run_id DESC"], ["e", "d", "c", "b", "a"]),
        (["start_time"], ["e", "a", "c", "b", "d"]),
        ("metrics.m", ["d", "a", "e", "b", "c"]),  # a lone string is one key
    ],
)
def test_sort_table(order_by: list[str] | str | None, expected: list[str]) -> None:
    assert ids(sort_table(SORT, order_by)) == expected


def test_sort_keys_parse_aliases_and_quoting() -> None:
    keys = parse_order_by(
        ["metrics.`val loss` DESC", 'tags."mlflow.user"', "created", "`run name`"]
    )
    assert [(k.column, k.ascending) for k in keys] == [
        ("metrics.val loss", False),
        ("tags.mlflow.user", True),
        ("start_time", True),
        ("name", True),
    ]
    assert ids(sort_table(SORT, parse_order_by(["metrics.m DESC"]))) == ["a", "e", "d", "b", "c"]


def test_sort_without_tie_break_columns_and_small_tables() -> None:
    table = pa.table({"metrics.m": [2.0, None, 1.0], "x": [1, 2, 3]})
    assert sort_table(table, ["metrics.m"]).column("x").to_pylist() == [3, 1, 2]
    assert sort_table(table, None).column("x").to_pylist() == [1, 2, 3]
    empty = SORT.slice(0, 0)
    assert sort_table(empty, ["metrics.m"]).num_rows == 0


@pytest.mark.parametrize(
    ("clause", "position", "fragment"),
    [
        ("metrics.acc DOWN", 13, "expected ASC, DESC"),
        ("metrics.acc DESC ASC", 18, "expected ASC, DESC or the end"),
        ("", 1, "expected a key"),
        ("acc DESC", 1, "unknown attribute 'acc'"),
        ("metrics.`acc", 9, "unterminated"),
        ("datasets.name", 1, "cannot sort by datasets.name"),
    ],
)
def test_order_by_errors(clause: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(["start_time", clause])
    assert str(info.value).startswith(f"invalid order_by {clause!r} at position {position}: ")
    assert fragment in str(info.value)


# --- property test: filter_table against a naive three-valued evaluator -------------------------

ALPHABET = "a\\%_A'b\" B.é É"
METRIC_KEYS = ["acc", "val loss", "a.b", "x`y", 'q"r']
PARAM_KEYS = ["lr", "model name", "mlflow.user", "p%_"]
TAG_KEYS = ["team", "mlflow.runName", "t'q"]
GHOST = {"metric": "ghost", "param": "nope", "tag": "never"}
PREFIXES = {
    "metric": ["metric", "metrics"],
    "param": ["param", "params", "parameter", "parameters"],
    "tag": ["tag", "tags"],
}
COLUMN_PREFIX = {"metric": "metrics.", "param": "params.", "tag": "tags."}
STRING_ATTRIBUTES = {
    "run_id": ["run_id"],
    "name": ["run_name", "name", "`Run name`", '"Run Name"', "`run name`"],
    "status": ["status"],
    "user": ["user_id", "user"],
    "experiment": ["experiment"],
    "source.commit": ["source.commit"],
}
NUMERIC_ATTRIBUTES = {"start_time": ["start_time", "created", "Created"], "end_time": ["end_time"]}
ATTRIBUTE_PREFIXES = ["", "attributes.", "attribute.", "attr.", "run."]
STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"]
NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">="]
NULL_OPS = ["IS NULL", "IS NOT NULL"]

texts = st.text(alphabet=ALPHABET, max_size=4)
patterns = st.text(alphabet=ALPHABET + "%%__", max_size=5)
metric_values = st.sampled_from([0.0, -0.0, 1.0, -1.5, 2.5, 1e300, NAN, INF, -INF]) | st.floats(
    -10, 10
)
literal_numbers = st.sampled_from([0.0, -0.0, 1.0, -1.5, 2.5, 1e300, -1e-5]) | st.floats(-10, 10)


@st.composite
def run_tables(draw: st.DrawFn) -> tuple[pa.Table, list[dict[str, Any]]]:
    n = draw(st.integers(0, 7))
    specs = [("metric", k) for k in METRIC_KEYS] + [("param", k) for k in PARAM_KEYS]
    specs += [("tag", k) for k in TAG_KEYS]
    present = [(kind, key) for kind, key in specs if draw(st.integers(0, 5))]
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "run_id": f"r{i}",
            "experiment": draw(st.sampled_from(["e1", "E1"])),
            "name": draw(st.none() | texts),
            "status": draw(st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED"])),
            "user": draw(texts),
            "start_time": draw(st.integers(0, 3)),
            "end_time": draw(st.none() | st.integers(0, 5)),
            "source.commit": draw(st.none() | st.sampled_from(["abc", "abd"])),
        }
        for kind, key in present:
            value = draw(st.none() | (metric_values if kind == "metric" else texts))
            row[COLUMN_PREFIX[kind] + key] = value
        rows.append(row)
    all_null = {
        name for name in (rows[0] if rows else {}) if all(row[name] is None for row in rows)
    }
    null_typed = frozenset(name for name in sorted(all_null) if draw(st.booleans()))
    names = [*STRING_COLUMNS, "start_time", "end_time"]
    names += [COLUMN_PREFIX[kind] + key for kind, key in present]
    return make_table(rows, null_typed, names), rows


def quote(text: str, q: str) -> str:
    return q + text.replace(q, q + q) + q


@st.composite
def keys(draw: st.DrawFn, kind: str, key: str) -> str:
    prefix = draw(st.sampled_from(PREFIXES[kind]))
    if re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", key) and draw(st.booleans()):
        return f"{prefix}.{key}"
    quoted = quote(key, draw(st.sampled_from(["`", '"'])))
    return f"{prefix}.{quoted}"


def string_literal(draw: st.DrawFn, value: str) -> str:
    """A literal MLflow reads as `value`: its text between quotes it does not contain (MLflow's
    literals have no escapes; a doubled quote stays doubled)."""
    options = [q for q in ("'", '"') if q not in value]
    assume(options and not value.endswith("\\"))  # '\' would run on, in MLflow too
    return quote(value, draw(st.sampled_from(options)))


def number_literal(draw: st.DrawFn, value: float) -> str:
    if value.is_integer() and abs(value) < 1e15 and draw(st.booleans()):
        return str(int(value))
    return repr(value) if draw(st.booleans()) else f"{value:.17e}"


def keyword(draw: st.DrawFn, op: str) -> str:
    return " ".join(draw(st.sampled_from([w, w.lower(), w.title()])) for w in op.split())


@st.composite
def derived_patterns(draw: st.DrawFn, pool: tuple[str, ...]) -> str:
    """A LIKE pattern made from a value in the table, so that it often matches (or nearly)."""
    out = []
    for ch in draw(st.sampled_from(pool)):
        roll = draw(st.integers(0, 6))
        out.append({0: "_", 1: "%", 2: ch.swapcase(), 3: ch.swapcase()}.get(roll, ch))
    if draw(st.booleans()):
        out.insert(draw(st.integers(0, len(out))), "%")
    return "".join(out)


Pool = dict[str, tuple[str, ...]]


def string_pool(rows: list[dict[str, Any]]) -> Pool:
    """Each column's string values, for filters that hit (or nearly hit) the table's contents."""
    pool: dict[str, set[str]] = {}
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str):
                pool.setdefault(column, set()).add(value)
    return {column: tuple(sorted(values)) for column, values in pool.items()}


@st.composite
def comparisons(draw: st.DrawFn, pool: Pool | None = None) -> tuple[tuple[Any, ...], str]:
    """A leaf as (ast, text); the ast is ("cmp", column, numeric, op, value). String values
    and LIKE patterns come from the column's values in ``pool`` half of the time."""
    kind = draw(st.sampled_from(["metric", "param", "tag", "string_attr", "numeric_attr"]))
    if kind in ("metric", "param", "tag"):
        names = {"metric": METRIC_KEYS, "param": PARAM_KEYS, "tag": TAG_KEYS}[kind]
        key = draw(st.sampled_from([*names, GHOST[kind]]))
        column, lhs, numeric = COLUMN_PREFIX[kind] + key, draw(keys(kind, key)), kind == "metric"
    else:
        numeric = kind == "numeric_attr"
        table = NUMERIC_ATTRIBUTES if numeric else STRING_ATTRIBUTES
        column = draw(st.sampled_from(sorted(table)))
        lhs = draw(st.sampled_from(ATTRIBUTE_PREFIXES)) + draw(st.sampled_from(table[column]))
    op = draw(st.sampled_from((NUMERIC_OPS if numeric else STRING_OPS) + NULL_OPS))
    known = (pool or {}).get(column, ())
    values = (st.sampled_from(known) | texts) if known else texts
    like_patterns = (derived_patterns(known) | patterns) if known else patterns
    value: Any = None
    if op in NULL_OPS:
        rhs = ""
    elif numeric:
        value = float(draw(literal_numbers)) if kind == "metric" else draw(st.integers(-1, 6))
        rhs = number_literal(draw, float(value))
    elif op.endswith("IN"):
        value = draw(st.lists(values, min_size=1, max_size=3))
        rhs = "(" + ", ".join(string_literal(draw, v) for v in value) + ")"
    else:
        value = draw(like_patterns if op.endswith("LIKE") else values)
        rhs = string_literal(draw, value)
    text = f"{lhs} {keyword(draw, op)} {rhs}".rstrip()
    if draw(st.integers(0, 9)) == 0:
        text = f"({text})"
    return ("cmp", column, numeric, op, value), text


PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4}


def combine(children: st.SearchStrategy[tuple[tuple[Any, ...], str]]) -> st.SearchStrategy[Any]:
    @st.composite
    def build(draw: st.DrawFn) -> tuple[tuple[Any, ...], str]:
        op = draw(st.sampled_from(["and", "or", "not"]))
        parts = draw(st.lists(children, min_size=1 if op == "not" else 2, max_size=3))
        if op == "not":
            parts = parts[:1]
        rendered = []
        for ast, text in parts:
            if PRECEDENCE[ast[0]] < PRECEDENCE[op] or draw(st.integers(0, 4)) == 0:
                text = f"({text})"
            rendered.append(text)
        if op == "not":
            return ("not", parts[0][0]), f"{keyword(draw, 'NOT')} {rendered[0]}"
        joiner = f" {keyword(draw, op.upper())} "
        return (op, [ast for ast, _ in parts]), joiner.join(rendered)

    return build()


def filters(pool: Pool | None = None) -> st.SearchStrategy[tuple[tuple[Any, ...], str]]:
    return st.recursive(comparisons(pool), combine, max_leaves=8)


def like(value: str, pattern: str) -> bool:
    """SQL LIKE by dynamic programming: % any run, _ one character, all else literal."""
    reachable = {0}
    for p in pattern:
        if p == "%":
            reachable = set(range(min(reachable), len(value) + 1)) if reachable else set()
        elif p == "_":
            reachable = {i + 1 for i in reachable if i < len(value)}
        else:
            reachable = {i + 1 for i in reachable if i < len(value) and value[i] == p}
    return len(value) in reachable


def value_of(row: dict[str, Any], column: str) -> Any:
    """A row's value; MLflow's system tags fall back to the record's columns (SPEC §8)."""
    from ledger.runs.mlflow_tags import FILTER_COLUMNS

    found = row.get(column)
    derived = FILTER_COLUMNS.get(column[len("tags."):]) if column.startswith("tags.") else None
    return row.get(derived) if found is None and derived is not None else found


def evaluate(ast: tuple[Any, ...], row: dict[str, Any]) -> bool | None:
    if ast[0] == "not":
        inner = evaluate(ast[1], row)
        return None if inner is None else not inner
    if ast[0] in ("and", "or"):
        results = [evaluate(child, row) for child in ast[1]]
        decisive = ast[0] == "or"  # True decides an OR, False an AND
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    _, column, _numeric, op, value = ast
    lhs = value_of(row, column)
    if op == "IS NULL":
        return lhs is None
    if op == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return None
    if op.endswith("IN"):
        return (lhs in value) == (op == "IN")
    if op.endswith("LIKE"):
        if op.endswith("ILIKE"):
            lhs, value = lhs.lower(), value.lower()
        return like(lhs, value) != op.startswith("NOT")
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return bool(compare(lhs, value))


def columns_of(ast: tuple[Any, ...]) -> set[str]:
    if ast[0] == "cmp":
        return {ast[1]}
    if ast[0] == "not":
        return columns_of(ast[1])
    return set().union(*(columns_of(child) for child in ast[1]))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_tables(), st.data())
def test_filter_table_matches_reference(
    data: tuple[pa.Table, list[dict[str, Any]]], draw: st.DataObject
) -> None:
    table, rows = data
    ast, text = draw.draw(filters(string_pool(rows)), label="filter")
    expected = [row["run_id"] for row in rows if evaluate(ast, row) is True]
    assert ids(filter_table(table, text)) == expected, text
    assert referenced_columns(parse_filter(text)) == columns_of(ast)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_tables(), st.data())
def test_single_comparison_matches_reference(
    data: tuple[pa.Table, list[dict[str, Any]]], draw: st.DataObject
) -> None:
    table, rows = data
    ast, text = draw.draw(comparisons(string_pool(rows)), label="filter")
    expected = [row["run_id"] for row in rows if evaluate(ast, row) is True]
    assert ids(filter_table(table, text)) == expected, text
    negated = [row["run_id"] for row in rows if evaluate(("not", ast), row) is True]
    assert ids(filter_table(table, f"NOT ({text})")) == negated, text


def reference_sort(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[str]:
    """MLflow's file-store algorithm: start_time DESC, run_id; then stable passes per key."""
    order = sorted(rows, key=lambda r: (-r["start_time"], r["run_id"]))
    for column, ascending in reversed(keys):
        got = {r["run_id"]: value_of(r, column) for r in order}
        values = [r for r in order if got[r["run_id"]] is not None
                  and got[r["run_id"]] == got[r["run_id"]]]
        nans = [r for r in order if got[r["run_id"]] is not None
                and got[r["run_id"]] != got[r["run_id"]]]
        nulls = [r for r in order if got[r["run_id"]] is None]
        values = sorted(values, key=lambda r: got[r["run_id"]], reverse=not ascending)
        order = values + nans + nulls
    return [r["run_id"] for r in order]


SORTABLE = [
    *(f"metrics.{k}" for k in [*METRIC_KEYS, "ghost"]),
    *(f"params.{k}" for k in PARAM_KEYS),
    "tags.team",
    "start_time",
    "end_time",
    "name",
    "status",
]


@settings(max_examples=200, deadline=None)
@given(
    run_tables(),
    st.lists(st.tuples(st.sampled_from(SORTABLE), st.booleans()), max_size=3),
    st.data(),
)
def test_sort_table_matches_reference(
    data: tuple[pa.Table, list[dict[str, Any]]], keys: list[tuple[str, bool]], draw: st.DataObject
) -> None:
    table, rows = data
    clauses = []
    for column, ascending in keys:
        kind, _, key = column.partition(".")
        if key:
            name = quote(key, "`") if not re.fullmatch(r"\w+", key) else key
            lhs = f"{kind}.{name}"
        else:
            lhs = "run_name" if column == "name" else column
        direction = draw.draw(
            st.sampled_from(["ASC", "asc", ""] if ascending else ["DESC", "desc"])
        )
        clauses.append(f"{lhs} {direction}".strip())
    assert ids(sort_table(table, clauses)) == reference_sort(rows, keys), clauses
