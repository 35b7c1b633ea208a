"""Server-side downsampling of metric histories for the charts: Largest-Triangle-Three-Buckets
(Steinarsson 2013), so that 50 runs x 10,000 points travel and draw as 50 x ~1,000.

The triangle areas are linear in the previously chosen point, so everything but that choice
is computed with numpy up front; the one sequential step runs over plain floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def lttb(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """The indices of the `n_out` points of (x, y) that keep the shape of the curve: always the
    first and the last point, and one point per bucket in between."""
    n = len(x)
    if n_out >= n or n_out < 3:
        return np.arange(n)
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    every = (n - 2) / (n_out - 2)
    # bucket i (0 <= i < n_out - 2) holds the points starts[i] .. starts[i+1] - 1
    starts = (np.arange(n_out - 1) * every).astype(np.int64) + 1
    starts[-1] = n - 1
    bounds = np.append(starts, n)  # the final "bucket" is the last point alone
    counts = np.diff(bounds)
    cx = np.add.reduceat(x, bounds[:-1]) / counts
    cy = np.add.reduceat(y, bounds[:-1]) / counts
    # for a point j of bucket i, with c the mean of bucket i + 1 and a the point chosen in
    # bucket i - 1: area(a, j, c) * 2 = |ax * p_j + ay * q_j + r_j|
    nx, ny = np.repeat(cx[1:], counts[:-1]), np.repeat(cy[1:], counts[:-1])
    inner = slice(1, n - 1)
    p = (y[inner] - ny).tolist()
    q = (nx - x[inner]).tolist()
    r = (x[inner] * ny - nx * y[inner]).tolist()
    xs, ys = x.tolist(), y.tolist()
    chosen = [0]
    ax, ay = xs[0], ys[0]
    lows = (starts - 1).tolist()
    for i in range(n_out - 2):
        best_j, best = lows[i], -1.0
        for j in range(lows[i], lows[i + 1]):
            area = abs(ax * p[j] + ay * q[j] + r[j])
            if area > best:
                best, best_j = area, j
        chosen.append(best_j + 1)
        ax, ay = xs[best_j + 1], ys[best_j + 1]
    chosen.append(n - 1)
    return np.asarray(chosen, dtype=np.int64)


def series(x: np.ndarray, y: np.ndarray, n_out: int) -> tuple[list[Any], list[Any]]:
    """Downsampled points as JSON-ready lists; NaN and ±inf become null (a gap in the line)."""
    finite = np.isfinite(y)
    keep = lttb(x[finite], y[finite], n_out) if finite.all() else None
    if keep is None:  # gaps: sample the finite points, then show where the gaps were
        idx = np.flatnonzero(finite)
        picked = idx[lttb(x[idx], y[idx], n_out)] if len(idx) else idx
        gaps = np.flatnonzero(~finite)
        keep = np.union1d(picked, gaps[:n_out])
    xs = x[keep]
    ys = y[keep].astype(np.float64)
    yl: list[Any] = [v if v == v and abs(v) != float("inf") else None for v in ys.tolist()]
    return xs.tolist(), yl
