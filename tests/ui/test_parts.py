"""The UI's pure parts: LTTB downsampling, artifact previews, the Host/Origin allow-list."""

from __future__ import annotations

import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ledger.serve.ui.downsample import lttb, lttb_many, series
from ledger.serve.ui.previews import preview
from ledger.serve.ui.security import Guard, split_host


def test_lttb_keeps_the_ends_the_count_and_the_peaks() -> None:
    x = np.arange(10_000)
    y = np.sin(x / 500.0)
    y[4321] = 50.0  # a spike a naive stride would miss
    picked = lttb(x, y, 500)
    assert len(picked) == 500 and picked[0] == 0 and picked[-1] == 9_999
    assert np.all(np.diff(picked) > 0)
    assert 4321 in picked
    assert list(lttb(x[:10], y[:10], 500)) == list(range(10))


def reference_lttb(x: list[float], y: list[float], n_out: int) -> list[int]:
    """LTTB as its paper writes it, one bucket at a time."""
    n = len(x)
    every = (n - 2) / (n_out - 2)
    kept, a = [0], 0
    for i in range(n_out - 2):
        lo, hi = int(i * every) + 1, int((i + 1) * every) + 1
        nlo, nhi = hi, min(int((i + 2) * every) + 1, n) if i < n_out - 3 else n
        if i == n_out - 3:
            nlo, nhi = n - 1, n
        cx = sum(x[nlo:nhi]) / (nhi - nlo)
        cy = sum(y[nlo:nhi]) / (nhi - nlo)
        areas = [abs((x[a] - cx) * (y[j] - y[a]) - (x[a] - x[j]) * (cy - y[a]))
                 for j in range(lo, hi)]
        a = lo + areas.index(max(areas))
        kept.append(a)
    return [*kept, n - 1]


@pytest.mark.parametrize("n", [7, 100, 997, 5_000])
def test_lttb_of_many_curves_at_once_is_lttb_of_each(n: int) -> None:
    rng = np.random.default_rng(n)
    curves = [(np.sort(rng.uniform(0, 100, size)), rng.normal(size=size))
              for size in (n, n // 2 + 3, 4, n * 2)]
    for (x, y), picked in zip(curves, lttb_many(curves, 50)):
        if len(x) <= 50:
            assert list(picked) == list(range(len(x)))
        else:
            assert list(picked) == reference_lttb(x.tolist(), y.tolist(), 50)


def test_lttb_of_a_straight_line_stays_on_it() -> None:
    x = np.arange(1_000, dtype=float)
    picked = lttb(x, 2 * x + 1, 50)
    assert np.allclose((2 * x + 1)[picked], 2 * x[picked] + 1)


def test_series_turns_non_finite_values_into_gaps() -> None:
    x = np.arange(2_000)
    y = np.linspace(0, 1, 2_000)
    y[[10, 500]] = [math.nan, math.inf]
    xs, ys = series(x, y, 100)
    assert None in ys and all(v is None or math.isfinite(v) for v in ys)
    assert 10 in xs and 500 in xs and xs == sorted(xs) and len(xs) <= 102


def test_previews_by_kind() -> None:
    assert preview("a/notes.txt", b"hello\n").text == "hello\n"
    assert preview("c.json", b'{"a": [1, 2]}').text == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert preview("c.json", b"{not json").kind == "text"
    table = preview("t.csv", b"a,b\n1,2\n3,4\n")
    assert (table.kind, table.columns, table.rows) == ("csv", ["a", "b"], [["1", "2"], ["3", "4"]])
    buf = io.BytesIO()
    pq.write_table(pa.table({"k": list(range(250))}), buf)
    parquet = preview("d.parquet", buf.getvalue())
    assert parquet.kind == "parquet" and parquet.total_rows == 250 and len(parquet.rows) == 100
    assert preview("broken.parquet", b"PAR1 nope").kind == "binary"
    assert preview("p.png", b"\x89PNG").kind == "image"
    for name in ("r.html", "f.svg", "x.xhtml"):
        shown = preview(name, b"<script>alert(1)</script>")
        assert shown.kind == "active" and shown.text == "<script>alert(1)</script>"
    assert preview("blob.bin", b"\x00\x01\x02").kind == "binary"
    assert preview("big.log", b"x" * 300_000).truncated


@pytest.mark.parametrize(("value", "ok"), [
    ("127.0.0.1:5050", True), ("localhost:5050", True), ("[::1]:5050", True),
    ("LOCALHOST:5050", True), ("127.0.0.1", True), ("box.lan:5050", True),
    ("127.0.0.1:5051", False), ("evil.example:5050", False), ("", False), (None, False),
    ("127.0.0.1:notaport", False), ("localhost.evil.example:5050", False),
])
def test_host_allow_list(value: str | None, ok: bool) -> None:
    assert Guard("box.lan", 5050).host_ok(value) is ok


@pytest.mark.parametrize(("origin", "ok"), [
    ("http://127.0.0.1:5050", True), ("http://localhost:5050", True),
    ("http://[::1]:5050", True), ("https://127.0.0.1:5050", False),
    ("http://127.0.0.1:5051", False), ("http://127.0.0.1", False), ("null", False),
    ("http://evil.example:5050", False), ("", False), (None, False),
])
def test_origin_allow_list(origin: str | None, ok: bool) -> None:
    assert Guard("127.0.0.1", 5050).origin_ok(origin) is ok


def test_tokens_are_bound_to_the_session_and_the_server() -> None:
    one, two = Guard("127.0.0.1", 5050), Guard("127.0.0.1", 5050)
    assert one.token_ok("s" * 43, one.token("s" * 43))
    assert not one.token_ok("t" * 43, one.token("s" * 43))
    assert not two.token_ok("s" * 43, one.token("s" * 43))  # another server's secret
    assert not one.token_ok(None, one.token("s" * 43)) and not one.token_ok("s" * 43, "")
    read_only = Guard("127.0.0.1", 5050, read_only=True)
    refusal = read_only.write_refusal({"origin": "http://127.0.0.1:5050"}, "s" * 43,
                                      read_only.token("s" * 43))
    assert refusal is not None and "read-only" in refusal
    assert split_host("[::1]:80") == ("::1", 80)


def test_every_asset_ships_in_the_package() -> None:
    """The UI works offline from an installed wheel: its templates, scripts, styles and the
    vendored chart library (with its licence) are package data."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["ledger"]
    ui = root / "ledger" / "serve" / "ui"
    assets = [p.relative_to(root / "ledger").as_posix()
              for folder in ("static", "templates") for p in (ui / folder).rglob("*")
              if p.is_file()]
    assert "serve/ui/static/vendor/uPlot.LICENSE" in assets
    missing = [a for a in assets if not any(fnmatch.fnmatch(a, pat) for pat in patterns)]
    assert missing == []
