"""Tests for ledger.store.parquet: pyarrow must read exactly what we write, and so must we."""

from __future__ import annotations

import io
import math
import random
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.store.parquet import (
    CREATED_BY,
    MAX_STAT_BYTES,
    Column,
    read_metrics,
    read_table,
    write_metrics,
    write_table,
)

if TYPE_CHECKING:
    from ledger.store.parquet import ColumnType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _f64(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


SPECIAL_FLOATS = [
    math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308,
    _f64(0x7FF0000000000001),  # signalling NaN
    _f64(0xFFF8000000000123),  # negative quiet NaN with a payload
]

VALUES: dict[ColumnType, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=30) | st.sampled_from(["", "metrics.val loss", "\x00", "😀é"]),
    "int64": st.integers(INT64_MIN, INT64_MAX) | st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]),
    "double": st.floats() | st.sampled_from(SPECIAL_FLOATS),
    "bool": st.booleans(),
}
ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "double": pa.float64(),
               "bool": pa.bool_()}


def _canon(value: Any) -> Any:
    """Map a value to something ``==`` compares exactly: floats by bit pattern, with the type."""
    if isinstance(value, float):
        return ("double", struct.pack("<d", value))
    return (type(value).__name__, value)


def _assert_same(actual: list[Any], expected: list[Any]) -> None:
    assert [_canon(v) for v in actual] == [_canon(v) for v in expected]


@st.composite
def tables(draw: st.DrawFn, max_rows: int = 2000) -> list[Column]:
    """Random tables of up to ``max_rows`` rows.

    Long columns pick their values from a smaller drawn pool, so that hypothesis does not run
    out of its data budget. Every pool value is used at least once.
    """
    num_rows = draw(st.integers(0, max_rows))
    names = draw(st.lists(st.text(max_size=12), min_size=1, max_size=6, unique=True))
    rnd = draw(st.randoms(use_true_random=False))
    columns = []
    for name in names:
        kind = draw(st.sampled_from(sorted(VALUES)))
        nullable = draw(st.booleans())
        elements = st.none() | VALUES[kind] if nullable else VALUES[kind]
        pool = draw(st.lists(elements, min_size=min(num_rows, 1), max_size=min(num_rows, 40)))
        values = pool + [rnd.choice(pool) for _ in range(num_rows - len(pool))]
        rnd.shuffle(values)
        if nullable and draw(st.booleans()):  # also exercise long runs of nulls / non-nulls
            start = rnd.randrange(num_rows + 1)
            end = min(num_rows, start + rnd.randrange(40))
            values[start:end] = [None] * (end - start)
        columns.append(Column(name, kind, values, nullable=nullable))
    return columns


def _check_with_pyarrow(columns: list[Column], data: bytes) -> None:
    table = pq.read_table(io.BytesIO(data), page_checksum_verification=True)
    assert table.column_names == [c.name for c in columns]
    for col, field in zip(columns, table.schema, strict=True):
        assert field.type == ARROW_TYPES[col.type]
        assert field.nullable == col.nullable
        _assert_same(table.column(col.name).to_pylist(), list(col.values))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([7, 100, 65_536]))
def test_roundtrip_random_tables(columns: list[Column], row_group_size: int) -> None:
    data = write_table(columns, row_group_size=row_group_size)
    _check_with_pyarrow(columns, data)
    ours = read_table(data)
    assert list(ours) == [c.name for c in columns]
    for col in columns:
        _assert_same(ours[col.name], list(col.values))


def _expected_stats(col: Column, values: list[Any]) -> tuple[int, Any, Any]:
    present = [v for v in values if v is not None]
    if not present or (col.type == "double" and any(math.isnan(v) for v in present)):
        return len(values) - len(present), None, None
    key = (lambda s: s.encode()) if col.type == "string" else None
    low, high = min(present, key=key), max(present, key=key)
    if col.type == "double":  # zero bounds are written as -0.0 (min) and +0.0 (max)
        low, high = (-0.0 if low == 0 else low), (0.0 if high == 0 else high)
    return len(values) - len(present), low, high


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=300), st.sampled_from([50, 1000]))
def test_statistics_read_by_pyarrow(columns: list[Column], row_group_size: int) -> None:
    data = write_table(columns, row_group_size=row_group_size)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.created_by == CREATED_BY
    num_rows = len(columns[0].values)
    assert meta.num_row_groups == -(-num_rows // row_group_size)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i, col in enumerate(columns):
            values = list(col.values[g * row_group_size:(g + 1) * row_group_size])
            assert group.num_rows == len(values)
            stats = group.column(i).statistics
            null_count, low, high = _expected_stats(col, values)
            assert stats.null_count == null_count
            if low is None or (col.type == "string" and len(high.encode()) > MAX_STAT_BYTES):
                assert not stats.has_min_max
            else:
                assert stats.has_min_max
                _assert_same([stats.min, stats.max], [low, high])


def test_double_statistics_edge_cases() -> None:
    cases = [([1.0, -0.0, 2.0], -0.0, 2.0), ([0.0, -3.5], -3.5, 0.0), ([-0.0, 0.0], -0.0, 0.0),
             ([math.inf, -math.inf], -math.inf, math.inf), ([1.0, math.nan], None, None)]
    for values, low, high in cases:
        meta = pq.ParquetFile(io.BytesIO(write_table([Column("x", "double", values)]))).metadata
        stats = meta.row_group(0).column(0).statistics
        if low is None:
            assert not stats.has_min_max
        else:
            _assert_same([stats.min, stats.max], [low, high])


def test_long_strings_have_no_min_max_but_roundtrip() -> None:
    values = ["a" * (MAX_STAT_BYTES + 1), "b"]
    data = write_table([Column("s", "string", values)])
    stats = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).statistics
    assert not stats.has_min_max and stats.null_count == 0
    assert read_table(data) == {"s": values}


def test_string_statistics_use_utf8_byte_order() -> None:
    values = ["\uffff", "\U00010000", "z"]  # code point order == UTF-8 byte order
    stats = pq.ParquetFile(io.BytesIO(write_table([Column("s", "string", values)]))).metadata
    stats = stats.row_group(0).column(0).statistics
    assert (stats.min, stats.max) == ("z", "\U00010000")


def test_dataset_filter_pushdown_skips_row_groups(tmp_path: Path) -> None:
    for n, key in enumerate(["acc", "loss", "val loss"]):
        points = [(key, step, 1_700_000_000_000 + step, step / 10) for step in range(1000)]
        (tmp_path / f"chunk-{n}.parquet").write_bytes(write_metrics(points, row_group_size=300))
    dataset = ds.dataset(tmp_path, format="parquet")
    wanted = (ds.field("key") == "loss") & (ds.field("step") >= 850)
    table = dataset.to_table(filter=wanted)
    assert table.column("key").to_pylist() == ["loss"] * 150
    assert table.column("step").to_pylist() == list(range(850, 1000))
    # The statistics really are used: only the last row group of the "loss" file can match.
    surviving = [rg.id for frag in dataset.get_fragments()
                 for sub in frag.split_by_row_group(wanted) for rg in sub.row_groups]
    assert surviving == [2, 3]
    nullable = tmp_path / "nullable"
    nullable.mkdir()
    tag_lists: list[list[str | None]] = [["a", None], [None, None], ["b", "c"]]
    for n, tags in enumerate(tag_lists):
        data = write_table([Column("tag", "string", tags, nullable=True),
                            Column("n", "int64", [n, n])])
        (nullable / f"{n}.parquet").write_bytes(data)
    table = ds.dataset(nullable, format="parquet").to_table(filter=ds.field("tag") == "b")
    assert table.to_pylist() == [{"tag": "b", "n": 2}]


def test_zero_rows() -> None:
    columns = [Column(kind, kind, [], nullable=i % 2 == 1) for i, kind in enumerate(VALUES)]
    data = write_table(columns)
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 0 and table.column_names == list(VALUES)
    assert [f.type for f in table.schema] == [ARROW_TYPES[k] for k in VALUES]
    assert read_table(data) == {kind: [] for kind in VALUES}
    assert read_metrics(write_metrics([])) == []
    assert pq.read_table(io.BytesIO(write_metrics([]))).schema.names == [
        "key", "step", "timestamp", "value"]


def test_metrics_roundtrip_small() -> None:
    points = [("loss", 0, 1_700_000_000_000, 0.5), ("metrics.val loss", 0, 1, math.nan),
              ("acc", 2**40, -1, -0.0), ("é", 1, 2, math.inf)]
    data = write_metrics(points)
    table = pq.read_table(io.BytesIO(data))
    for n, name in enumerate(["key", "step", "timestamp", "value"]):
        _assert_same(table.column(name).to_pylist(), [p[n] for p in points])
        _assert_same([p[n] for p in read_metrics(data)], [p[n] for p in points])
    schema = pq.read_schema(io.BytesIO(data))
    assert [(f.name, f.type, f.nullable) for f in schema] == [
        ("key", pa.string(), False), ("step", pa.int64(), False),
        ("timestamp", pa.int64(), False), ("value", pa.float64(), False)]


def test_metrics_large() -> None:
    keys = ["loss", "acc", "val loss", "lr"]
    points = [(keys[i % 4], i // 4, 1_700_000_000_000 + i, math.sin(i)) for i in range(200_000)]
    data = write_metrics(points)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.num_rows == 200_000 and meta.num_row_groups == 4
    table = pq.read_table(io.BytesIO(data), page_checksum_verification=True)
    assert list(zip(*(table.column(n).to_pylist() for n in table.column_names),
                    strict=True)) == points
    assert read_metrics(data) == points


def test_reads_plain_uncompressed_files_from_pyarrow() -> None:
    table = pa.table({
        "s": pa.array(["x", None, "ÿ"] * 50_000, pa.string()),
        "i": pa.array([1, 2, None] * 50_000, pa.int64()),
        "d": pa.array([0.5, -0.0, math.nan] * 50_000, pa.float64()),
        "b": pa.array([True, None, False] * 50_000, pa.bool_()),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="none", use_dictionary=False,
                   data_page_size=4096, write_page_checksum=True)
    ours = read_table(sink.getvalue())
    for name in table.column_names:
        _assert_same(ours[name], table.column(name).to_pylist())


@pytest.mark.parametrize("options, message", [
    ({}, "compressed"),
    ({"compression": "none"}, "dictionary"),
    ({"compression": "none", "use_dictionary": False, "data_page_version": "2.0"}, "page type"),
])
def test_refuses_unsupported_features(options: dict[str, Any], message: str) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"s": ["a", "b", "a"]}), sink, **options)
    with pytest.raises(ValueError, match=message):
        read_table(sink.getvalue())


def test_refuses_corrupt_data() -> None:
    data = write_table([Column("s", "string", ["hello", "world"])])
    with pytest.raises(ValueError, match="PAR1"):
        read_table(data[:-1])
    with pytest.raises(ValueError, match="CRC"):
        read_table(data.replace(b"world", b"w0rld"))
    for cut in range(4, len(data) - 8, 7):  # whatever the damage, only ValueError comes out
        damaged = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1:]
        try:
            read_table(damaged)
        except ValueError:
            pass


def test_write_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not nullable"):
        write_table([Column("x", "int64", [1, None])])
    with pytest.raises(ValueError, match="values"):
        write_table([Column("x", "int64", [1]), Column("y", "int64", [1, 2])])
    with pytest.raises(ValueError, match="duplicate"):
        write_table([Column("x", "int64", [1]), Column("x", "bool", [True])])
    with pytest.raises(ValueError, match="at least one"):
        write_table([])
    with pytest.raises(ValueError, match="unknown type"):
        Column("x", "float32", [])  # type: ignore[arg-type]
    for kind, bad in [("int64", 2**63), ("int64", 1.5), ("double", "1"), ("string", b"x"),
                      ("bool", 1)]:
        with pytest.raises(ValueError, match="cannot store"):
            write_table([Column("x", kind, [bad])])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metric points"):
        write_metrics([("loss", 1, 2)])  # type: ignore[list-item]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2]).stdout
    return set(out.split())


def test_module_imports_only_the_standard_library() -> None:
    added = _modules_after("import ledger.store.parquet") - _modules_after("pass")
    assert {m.split(".")[0] for m in added} - set(sys.stdlib_module_names) == {"ledger"}


def _level_patterns() -> list[list[bool]]:
    rnd = random.Random(7)
    patterns: list[list[bool]] = [[], [True], [False], [True] * 70, [False] * 70,
                                  [i % 2 == 0 for i in range(70)]]
    for length in range(1, 20):  # runs shorter and longer than 8 at every alignment
        patterns.append([(i // length) % 2 == 0 for i in range(5 * length + 3)])
    for p in (0.01, 0.5, 0.99):
        patterns.append([rnd.random() < p for _ in range(3000)])
    return patterns


@pytest.mark.parametrize("present", _level_patterns())
def test_definition_level_runs(present: list[bool]) -> None:
    values = [float(i) if keep else None for i, keep in enumerate(present)]
    data = write_table([Column("x", "double", values, nullable=True)])
    assert pq.read_table(io.BytesIO(data)).column("x").to_pylist() == values
    assert read_table(data)["x"] == values
