"""A small Parquet writer with no dependencies, plus a reader for the files it writes.

Why it exists: ``ledger log`` has to start and finish in about 100 ms, but
``import pyarrow.parquet`` alone takes about 65 ms. Metric histories are still stored as
Parquet, so pyarrow, DuckDB, Polars or Spark can read them directly. This module writes
those files using only the standard library (``struct``, ``zlib``). It also reads back the
files it wrote, so short-lived CLI processes never need pyarrow.

What it writes (field ids and enums follow apache/parquet-format ``parquet.thrift`` and
``Encodings.md``):

* a flat schema of ``string`` (BYTE_ARRAY annotated STRING/UTF8), ``int64``, ``double`` and
  ``bool`` columns, each REQUIRED or OPTIONAL;
* row groups of at most ``row_group_size`` rows. Each column chunk is one uncompressed
  DataPage v1 with PLAIN values and a CRC32. Definition levels use the RLE/bit-packed hybrid
  encoding (bit width 1, with the 4-byte length prefix that v1 pages require);
* column chunk statistics (``null_count``, ``min_value``/``max_value``, ``nan_count`` for
  doubles) with TYPE_ORDER column orders, so query engines can skip row groups;
* FileMetaData in the Thrift compact protocol.

Pages are left uncompressed on purpose: git already zlib-compresses its blobs, and
compressing twice would only cost time.
"""

from __future__ import annotations

import math
import struct
import zlib

# `typing` is not imported at run time: the import alone takes several ms, and this module is
# on the CLI's start-up path. mypy treats a `TYPE_CHECKING` name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, Literal, TypeAlias

    ColumnType: TypeAlias = Literal["string", "int64", "double", "bool"]
    MetricPoint: TypeAlias = tuple[str, int, int, float]

__all__ = [
    "CREATED_BY",
    "DEFAULT_ROW_GROUP_SIZE",
    "METRIC_COLUMNS",
    "Column",
    "read_metrics",
    "read_table",
    "write_metrics",
    "write_table",
]

CREATED_BY = "ledger parquet-lite version 1"
"""FileMetaData.created_by, in the ``<app> version <version>`` form the spec asks for."""

DEFAULT_ROW_GROUP_SIZE = 65_536
"""Rows per row group. Several groups let readers skip data using their statistics."""

MAX_STAT_BYTES = 4096
"""String min/max longer than this are left out of the statistics, which keeps the footer small."""

METRIC_COLUMNS = ("key", "step", "timestamp", "value")

_MAGIC = b"PAR1"
_U32 = struct.Struct("<I")

# Parquet enums (parquet.thrift).
_PHYSICAL = {"bool": 0, "int64": 2, "double": 5, "string": 6}  # Type
_KIND = {code: kind for kind, code in _PHYSICAL.items()}
_REQUIRED, _OPTIONAL = 0, 1  # FieldRepetitionType
_UTF8 = 0  # ConvertedType
_PLAIN, _PLAIN_DICTIONARY, _RLE, _RLE_DICTIONARY = 0, 2, 3, 8  # Encoding
_UNCOMPRESSED = 0  # CompressionCodec
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2  # PageType

# Thrift compact protocol type ids. _BOOL is how field specs ask for a boolean field.
_TRUE, _FALSE, _I8, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_BOOL = _TRUE


class Column:
    """One column to write: its name, type, Python values (None means null) and nullability.

    ``name`` may contain any characters (e.g. ``"metrics.val loss"``) and is stored as-is.
    ``type`` is ``"string"``, ``"int64"``, ``"double"`` or ``"bool"``. A non-nullable column
    becomes REQUIRED in Parquet, and None in it is an error.
    """

    __slots__ = ("name", "nullable", "type", "values")

    def __init__(
        self, name: str, type: ColumnType, values: Sequence[Any], nullable: bool = False
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"column name must be a str, not {name!r}")
        if type not in _PHYSICAL:
            raise ValueError(f"column {name!r}: unknown type {type!r}, expected one of "
                             f"{', '.join(_PHYSICAL)}")
        self.name = name
        self.type: ColumnType = type
        self.values = values
        self.nullable = nullable

    def __repr__(self) -> str:
        return (f"Column({self.name!r}, {self.type!r}, <{len(self.values)} values>, "
                f"nullable={self.nullable})")


# --- writing -------------------------------------------------------------------------------


def write_table(
    columns: Sequence[Column], *, row_group_size: int = DEFAULT_ROW_GROUP_SIZE
) -> bytes:
    """Encode ``columns`` (all of the same length) as the bytes of a Parquet file.

    There is no ``num_rows`` argument because it is always ``len(column.values)``.
    An empty table is written with no row groups, and readers still see its schema.
    Raises ValueError for anything it cannot store faithfully: no columns, duplicate names,
    columns of different lengths, None in a non-nullable column, or values of the wrong type
    or out of range.
    """
    if not columns:
        raise ValueError("a Parquet table needs at least one column")
    names = [col.name for col in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in {names!r}")
    if row_group_size < 1:
        raise ValueError(f"row_group_size must be positive, not {row_group_size}")
    num_rows = len(columns[0].values)
    for col in columns:
        if len(col.values) != num_rows:
            raise ValueError(f"column {col.name!r} has {len(col.values)} values, "
                             f"column {names[0]!r} has {num_rows}")
        if not col.nullable and None in col.values:
            raise ValueError(f"column {col.name!r} is not nullable but contains None")

    out = bytearray(_MAGIC)
    row_groups: list[bytes] = []
    for start in range(0, num_rows, row_group_size):
        stop = min(start + row_group_size, num_rows)
        group_offset, group_size, chunks = len(out), 0, []
        for col in columns:
            values = col.values if stop - start == num_rows else col.values[start:stop]
            chunk, size = _write_chunk(out, col, values)
            chunks.append(chunk)
            group_size += size
        ordinal = len(row_groups) if len(row_groups) < 0x8000 else None  # it is an i16
        row_groups.append(_struct(
            (1, _LIST, (_STRUCT, chunks)), (2, _I64, group_size), (3, _I64, stop - start),
            (5, _I64, group_offset), (6, _I64, group_size), (7, _I16, ordinal),
        ))

    schema = [_struct((4, _BINARY, "schema"), (5, _I32, len(columns)))]
    for col in columns:
        is_string = col.type == "string"
        schema.append(_struct(
            (1, _I32, _PHYSICAL[col.type]), (3, _I32, _OPTIONAL if col.nullable else _REQUIRED),
            (4, _BINARY, col.name), (6, _I32, _UTF8 if is_string else None),
            (10, _STRUCT, _STRING_LOGICAL_TYPE if is_string else None),
        ))
    footer = _struct(
        (1, _I32, 1), (2, _LIST, (_STRUCT, schema)), (3, _I64, num_rows),
        (4, _LIST, (_STRUCT, row_groups)), (6, _BINARY, CREATED_BY),
        (7, _LIST, (_STRUCT, [_TYPE_DEFINED_ORDER] * len(columns))),
    )
    out += footer
    out += _U32.pack(len(footer))
    out += _MAGIC
    return bytes(out)


def write_metrics(
    points: Iterable[MetricPoint], *, row_group_size: int = DEFAULT_ROW_GROUP_SIZE
) -> bytes:
    """Encode metric points ``(key, step, timestamp, value)`` as a Parquet file.

    The columns are ``key`` (string), ``step`` and ``timestamp`` (int64) and ``value``
    (double). None of them is nullable, and the rows keep the order they were given in.
    """
    rows = list(points)
    try:
        keys, steps, stamps, values = zip(*rows, strict=True) if rows else ((),) * 4
    except ValueError as exc:
        raise ValueError(f"metric points must be (key, step, timestamp, value): {exc}") from None
    return write_table([
        Column("key", "string", keys),
        Column("step", "int64", steps),
        Column("timestamp", "int64", stamps),
        Column("value", "double", values),
    ], row_group_size=row_group_size)


def _write_chunk(out: bytearray, col: Column, values: Sequence[Any]) -> tuple[bytes, int]:
    """Append one column chunk (a single page) to ``out``.

    Returns its ColumnChunk struct and its size in bytes.
    """
    body = bytearray()
    present = values
    if col.nullable:
        levels = _encode_levels("".join(["0" if v is None else "1" for v in values]))
        body += _U32.pack(len(levels))
        body += levels
        present = [v for v in values if v is not None]
    data, low, high, nan_count = _encode_values(col, present)
    body += data
    if len(body) > 0x7FFFFFFF:
        raise ValueError(f"column {col.name!r}: page exceeds 2 GiB; use a smaller row_group_size")
    crc = zlib.crc32(body)
    header = _struct(
        (1, _I32, _DATA_PAGE), (2, _I32, len(body)), (3, _I32, len(body)),
        (4, _I32, crc - ((crc & 0x80000000) << 1)),  # the spec stores the CRC as a signed i32
        (5, _STRUCT, _struct(
            (1, _I32, len(values)), (2, _I32, _PLAIN), (3, _I32, _RLE), (4, _I32, _RLE),
        )),
    )
    offset = len(out)
    out += header
    out += body
    size = len(header) + len(body)
    exact = True if low is not None else None
    stats = _struct(
        (3, _I64, len(values) - len(present)), (5, _BINARY, high), (6, _BINARY, low),
        (7, _BOOL, exact), (8, _BOOL, exact), (9, _I64, nan_count),
    )
    meta = _struct(
        (1, _I32, _PHYSICAL[col.type]), (2, _LIST, (_I32, [_PLAIN, _RLE])),
        (3, _LIST, (_BINARY, [col.name])), (4, _I32, _UNCOMPRESSED), (5, _I64, len(values)),
        (6, _I64, size), (7, _I64, size), (9, _I64, offset), (12, _STRUCT, stats),
    )
    return _struct((2, _I64, 0), (3, _STRUCT, meta)), size


def _encode_values(
    col: Column, values: Sequence[Any]
) -> tuple[bytes, bytes | None, bytes | None, int | None]:
    """PLAIN-encode non-null values and compute their statistics.

    Returns the encoded data, min, max and NaN count.
    """
    n = len(values)
    low: Any = None
    high: Any = None
    try:
        if col.type == "string":
            raw = [v.encode() for v in values]
            if raw:  # bytes compare unsigned byte-wise, which is the order UTF8 stats use
                low, high = min(raw), max(raw)
                if max(len(low), len(high)) > MAX_STAT_BYTES:
                    low = high = None
            return b"".join([_U32.pack(len(b)) + b for b in raw]), low, high, None
        if col.type == "int64":
            data = struct.pack(f"<{n}q", *values)
            if values:
                low, high = struct.pack("<q", min(values)), struct.pack("<q", max(values))
            return data, low, high, None
        if col.type == "double":
            data = struct.pack(f"<{n}d", *values)
            nan_count = sum(map(math.isnan, values))
            if values and not nan_count:  # like other writers, give no bounds when NaN is present
                low, high = min(values), max(values)
                # Per parquet.thrift, a zero bound is written as -0.0 (min) or +0.0 (max).
                low = struct.pack("<d", -0.0 if low == 0 else low)
                high = struct.pack("<d", 0.0 if high == 0 else high)
            return data, low, high, nan_count
        if not all(v is True or v is False for v in values):
            raise TypeError("not a bool")
        bits = "".join(["1" if v else "0" for v in values])
        if bits:
            low, high = (b"\x00" if "0" in bits else b"\x01"), (b"\x01" if "1" in bits else b"\x00")
        return _pack_bits(bits), low, high, None
    except (AttributeError, TypeError, OverflowError, struct.error) as exc:
        raise ValueError(f"column {col.name!r}: cannot store values as {col.type}: {exc}") from None


def _encode_levels(bits: str) -> bytes:
    """Encode 0/1 definition levels with the RLE/bit-packed hybrid (bit width 1, no length).

    A run of at least 8 equal levels becomes an RLE run. Everything else is bit-packed in
    groups of 8, and only the very last group may be padded. That way every bit-packed run
    holds a whole number of groups of real values.
    """
    out = bytearray()
    groups: list[str] = []
    i, n = 0, len(bits)
    while i < n:
        end = bits.find("0" if bits[i] == "1" else "1", i)
        end = n if end < 0 else end
        if end - i >= 8:
            if groups:
                out += _varint(len(groups) << 1 | 1) + _pack_bits("".join(groups))
                groups = []
            out += _varint((end - i) << 1)
            out.append(bits[i] == "1")
            i = end
        else:
            groups.append(bits[i:i + 8])
            i += 8
    if groups:
        out += _varint(len(groups) << 1 | 1) + _pack_bits("".join(groups))
    return bytes(out)


def _pack_bits(bits: str) -> bytes:
    """Pack a '0'/'1' string LSB first (Parquet's bit order), zero-padded to whole bytes."""
    return int(bits[::-1], 2).to_bytes((len(bits) + 7) // 8, "little") if bits else b""


def _unpack_bits(raw: bytes) -> str:
    """Inverse of _pack_bits: all ``8 * len(raw)`` bits of ``raw`` as a '0'/'1' string."""
    return format(int.from_bytes(raw, "little"), f"0{8 * len(raw)}b")[::-1] if raw else ""


# --- Thrift compact protocol ---------------------------------------------------------------


def _varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def _value(ttype: int, value: Any) -> bytes:
    """Encode a value (not a bool) of Thrift type ``ttype``. A struct is given pre-encoded."""
    if ttype in (_I16, _I32, _I64):
        return _varint(_zigzag(value))
    if ttype == _BINARY:
        raw = value.encode() if isinstance(value, str) else value
        return _varint(len(raw)) + raw
    if ttype == _STRUCT:
        return bytes(value)
    if ttype == _LIST:  # value is (element type, items)
        etype, items = value
        head = bytes([len(items) << 4 | etype] if len(items) < 15 else [0xF0 | etype])
        head += _varint(len(items)) if len(items) >= 15 else b""
        return head + b"".join([_value(etype, item) for item in items])
    raise AssertionError(f"unsupported Thrift type {ttype}")


def _struct(*fields: tuple[int, int, Any]) -> bytes:
    """Encode a Thrift struct from ``(field id, type, value)`` in increasing id order.

    Fields whose value is None are left out.
    """
    out = bytearray()
    last = 0
    for fid, ttype, value in fields:
        if value is None:
            continue
        if ttype == _BOOL:
            ttype = _TRUE if value else _FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | ttype)
        else:
            out.append(ttype)
            out += _varint(_zigzag(fid))
        if ttype not in (_TRUE, _FALSE):
            out += _value(ttype, value)
        last = fid
    out.append(0)
    return bytes(out)


_STRING_LOGICAL_TYPE = _struct((1, _STRUCT, _struct()))  # LogicalType{STRING: StringType{}}
_TYPE_DEFINED_ORDER = _struct((1, _STRUCT, _struct()))  # ColumnOrder{TYPE_ORDER: {}}


class _ThriftReader:
    """Decode Thrift compact protocol values. A struct is decoded to ``{field id: value}``."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ttype: int) -> Any:
        if ttype in (_TRUE, _FALSE):  # a bool list element: one byte
            return self.byte() == 1
        if ttype == _I8:
            byte = self.byte()
            return byte - 256 if byte > 127 else byte
        if ttype in (_I16, _I32, _I64):
            return self.zigzag()
        if ttype == _DOUBLE:
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if ttype == _BINARY:
            size = self.varint()
            self.pos += size
            if self.pos > len(self.data):
                raise ValueError("truncated Thrift binary")
            return self.data[self.pos - size:self.pos]
        if ttype in (_LIST, _SET):
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            return [self.value(head & 0x0F) for _ in range(size)]
        if ttype == _MAP:
            size = self.varint()
            kinds = self.byte() if size else 0
            return [(self.value(kinds >> 4), self.value(kinds & 0x0F)) for _ in range(size)]
        if ttype == _STRUCT:
            return self.struct()
        raise ValueError(f"unknown Thrift type {ttype}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while head := self.byte():
            ttype, delta = head & 0x0F, head >> 4
            last = last + delta if delta else self.zigzag()
            fields[last] = ttype == _TRUE if ttype in (_TRUE, _FALSE) else self.value(ttype)
        return fields


# --- reading -------------------------------------------------------------------------------


def read_table(data: bytes) -> dict[str, list[Any]]:
    """Decode a Parquet file written by :func:`write_table` into ``{column name: values}``.

    Nulls come back as None, and the columns keep their file order. Other writers' files can
    be read too if they use the same subset: flat schema, the four column types, PLAIN, no
    compression, DataPage v1. Anything else (compression, dictionary encoding, nested or
    other types) is refused with ValueError. So is corrupt data, including a page CRC mismatch.
    """
    try:
        return _read_table(bytes(data))
    except (IndexError, KeyError, TypeError, AttributeError, struct.error,
            UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt Parquet data ({type(exc).__name__}: {exc})") from None


def read_metrics(data: bytes) -> list[MetricPoint]:
    """Decode a file written by :func:`write_metrics` into ``(key, step, timestamp, value)``."""
    table = read_table(data)
    missing = [name for name in METRIC_COLUMNS if name not in table]
    if missing:
        raise ValueError(f"not a metrics table: missing column(s) {', '.join(missing)}")
    return list(zip(table["key"], table["step"], table["timestamp"], table["value"],
                    strict=True))


def _read_table(data: bytes) -> dict[str, list[Any]]:
    if len(data) < 12 or data[:4] != _MAGIC or data[-4:] != _MAGIC:
        raise ValueError("not a Parquet file (PAR1 magic missing)")
    footer_start = len(data) - 8 - _U32.unpack_from(data, len(data) - 8)[0]
    if footer_start < 4:
        raise ValueError("corrupt Parquet footer length")
    meta = _ThriftReader(data, footer_start).struct()
    root, *leaves = meta[2]
    if root.get(5) != len(leaves) or any(5 in leaf or 1 not in leaf for leaf in leaves):
        raise ValueError("nested Parquet schemas are not supported")
    columns: dict[str, list[Any]] = {}
    specs: list[tuple[str, str, bool]] = []  # name, kind, optional
    for leaf in leaves:
        name = leaf[4].decode()
        kind = _KIND.get(leaf[1])
        if kind is None:
            raise ValueError(f"column {name!r}: Parquet physical type {leaf[1]} is not supported")
        if kind == "string" and leaf.get(6) != _UTF8 and 1 not in leaf.get(10, {}):
            raise ValueError(f"column {name!r}: BYTE_ARRAY without STRING annotation "
                             "is not supported")
        if leaf.get(3) not in (_REQUIRED, _OPTIONAL):
            raise ValueError(f"column {name!r}: repeated columns are not supported")
        if name in columns:
            raise ValueError(f"duplicate column name {name!r}")
        columns[name] = []
        specs.append((name, kind, leaf[3] == _OPTIONAL))
    for group in meta[4]:
        if len(group[1]) != len(specs):
            raise ValueError("row group does not have one column chunk per column")
        for (name, kind, optional), chunk in zip(specs, group[1], strict=True):
            values = _read_chunk(data, chunk, kind, optional, group[3])
            if len(values) != group[3]:
                raise ValueError(f"column {name!r}: {len(values)} values in a row group of "
                                 f"{group[3]} rows")
            columns[name] += values
    return columns


def _read_chunk(
    data: bytes, chunk: dict[int, Any], kind: str, optional: bool, num_rows: int
) -> list[Any]:
    """Decode the values (None for nulls) of one column chunk of a ``num_rows`` row group."""
    if 1 in chunk:
        raise ValueError("column chunks stored in other files are not supported")
    meta = chunk[3]
    if meta[4] != _UNCOMPRESSED:
        raise ValueError(f"compressed column chunks (codec {meta[4]}) are not supported")
    out: list[Any] = []
    pos, remaining = meta[9], meta[5]
    if remaining != num_rows:  # flat schema: one value per row; also bounds memory use
        raise ValueError(f"column chunk has {remaining} values for {num_rows} rows")
    while remaining > 0:
        reader = _ThriftReader(data, pos)
        header = reader.struct()
        pos = reader.pos + header[3]
        body = data[reader.pos:pos]
        if len(body) != header[3]:
            raise ValueError("truncated Parquet page")
        if header[1] == _DICTIONARY_PAGE:
            raise ValueError("dictionary-encoded columns are not supported")
        if header[1] != _DATA_PAGE:
            raise ValueError(f"Parquet page type {header[1]} is not supported (only DataPage v1)")
        if 4 in header and header[4] & 0xFFFFFFFF != zlib.crc32(body):
            raise ValueError("Parquet page CRC mismatch")
        count, encoding = header[5][1], header[5][2]
        if encoding in (_PLAIN_DICTIONARY, _RLE_DICTIONARY):
            raise ValueError("dictionary-encoded columns are not supported")
        if encoding != _PLAIN:
            raise ValueError(f"page encoding {encoding} is not supported (only PLAIN)")
        if not 0 <= count <= remaining:
            raise ValueError(f"page has {count} values, its column chunk {remaining} left")
        if not optional:
            out += _decode_plain(kind, body, 0, count)
        else:
            if header[5][3] != _RLE:
                raise ValueError("definition levels must be RLE-encoded")
            size = _U32.unpack_from(body)[0]
            levels = _decode_levels(body[4:4 + size], count)
            present = iter(_decode_plain(kind, body, 4 + size, levels.count("1")))
            out += [next(present) if bit == "1" else None for bit in levels]
        remaining -= count
    return out


def _decode_levels(raw: bytes, count: int) -> str:
    """Decode ``count`` 0/1 levels from the RLE/bit-packed hybrid (bit width 1)."""
    reader = _ThriftReader(raw)
    parts: list[str] = []
    have = 0
    while have < count:
        header = reader.varint()
        if header & 1:  # bit-packed: header >> 1 groups of 8 values, one byte per group
            part = _unpack_bits(raw[reader.pos:reader.pos + (header >> 1)])
            reader.pos += header >> 1
        else:  # RLE: header >> 1 repetitions of a one-byte value
            value = reader.byte()
            if value > 1:
                raise ValueError(f"definition level {value} out of range")
            part = "01"[value] * min(header >> 1, count - have)
        if not part:
            raise ValueError("corrupt definition levels")
        parts.append(part)
        have += len(part)
    return "".join(parts)[:count]


def _decode_plain(kind: str, body: bytes, pos: int, count: int) -> list[Any]:
    """Decode ``count`` PLAIN values of ``kind`` from ``body`` at ``pos``."""
    if kind == "int64":
        return list(struct.unpack_from(f"<{count}q", body, pos))
    if kind == "double":
        return list(struct.unpack_from(f"<{count}d", body, pos))
    if kind == "bool":
        bits = _unpack_bits(body[pos:pos + (count + 7) // 8])
        if len(bits) < count:
            raise ValueError("truncated boolean values")
        return [bit == "1" for bit in bits[:count]]
    values = []
    unpack = _U32.unpack_from
    for _ in range(count):
        size = unpack(body, pos)[0]
        pos += 4 + size
        if pos > len(body):
            raise ValueError("truncated string value")
        values.append(str(body[pos - size:pos], "utf-8"))
    return values
