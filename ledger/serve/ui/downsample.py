"""Server-side downsampling of metric histories for the charts: Largest-Triangle-Three-Buckets
(Steinarsson 2013), so that 50 runs x 10,000 points travel and draw as 50 x ~800.

LTTB keeps, in each bucket, the point that makes the largest triangle with the point kept in
the bucket before and the mean of the bucket after. Only the choice in the bucket before is
sequential, and the triangle's area is linear in it, so everything else is computed with
numpy up front and the sequential walk steps through the buckets of all runs at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def lttb(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """The indices of the `n_out` points of (x, y) that keep the shape of the curve: always the
    first and the last point, and one point per bucket in between."""
    return lttb_many([(x, y)], n_out)[0]


def lttb_many(curves: Sequence[tuple[np.ndarray, np.ndarray]], n_out: int) -> list[np.ndarray]:
    """`lttb` of several curves (x sorted, y finite), in one walk over the buckets."""
    big = [i for i, (x, _) in enumerate(curves) if n_out >= 3 and len(x) > n_out]
    out: dict[int, np.ndarray] = {}
    if big:
        layouts = [_layout(len(curves[i][0]), n_out) for i in big]
        width = max(int(counts[:-1].max()) for _, counts in layouts)
        # bucket x curve x lane: the candidate point (index, x, y) and the coefficients of
        # twice the triangle's area |ax * q + ay * r + s| (a: the point kept in the bucket
        # before; c: the mean of the bucket after). A bucket narrower than `width` repeats
        # its first point in the spare lanes, which argmax never prefers to the original.
        shape = (n_out - 2, len(big), width)
        index = np.zeros(shape, dtype=np.int64)
        px, py, q, r, s = (np.zeros(shape) for _ in range(5))
        lane = np.arange(width)
        for row, (i, (starts, counts)) in enumerate(zip(big, layouts)):
            x, y = (np.asarray(a, dtype=np.float64) for a in curves[i])
            cx = np.add.reduceat(x, starts) / counts
            cy = np.add.reduceat(y, starts) / counts
            ok = lane[None, :] < counts[:-1, None]
            idx = np.where(ok, starts[:-1, None] + lane[None, :], starts[:-1, None])
            xj, yj, nx, ny = x[idx], y[idx], cx[1:, None], cy[1:, None]
            index[:, row], px[:, row], py[:, row] = idx, xj, yj
            q[:, row], r[:, row], s[:, row] = yj - ny, nx - xj, xj * ny - nx * yj
        rows = np.arange(len(big))
        ax = np.array([float(curves[i][0][0]) for i in big])[:, None]
        ay = np.array([float(curves[i][1][0]) for i in big])[:, None]
        kept = np.empty((n_out - 2, len(big)), dtype=np.int64)
        for b in range(n_out - 2):
            best = np.abs(ax * q[b] + ay * r[b] + s[b]).argmax(axis=1)
            kept[b] = index[b, rows, best]
            ax, ay = px[b, rows, best][:, None], py[b, rows, best][:, None]
        for row, i in enumerate(big):
            out[i] = np.concatenate(([0], kept[:, row], [len(curves[i][0]) - 1]))
    return [out[i] if i in out else np.arange(len(x)) for i, (x, _) in enumerate(curves)]


def _layout(n: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket starts (the last one is the final point alone) and sizes, for n > n_out."""
    every = (n - 2) / (n_out - 2)
    starts = (np.arange(n_out - 1) * every).astype(np.int64) + 1
    starts[-1] = n - 1
    return starts, np.diff(np.append(starts, n))


def series(x: np.ndarray, y: np.ndarray, n_out: int) -> tuple[list[Any], list[Any]]:
    """Downsampled points as JSON-ready lists; NaN and ±inf become null (a gap in the line)."""
    return many([(x, y)], n_out)[0]


def many(curves: Sequence[tuple[np.ndarray, np.ndarray]], n_out: int
         ) -> list[tuple[list[Any], list[Any]]]:
    """`series` of several curves, downsampled together."""
    finite = [np.isfinite(y) for _, y in curves]
    kept = lttb_many([(x[f], y[f]) for (x, y), f in zip(curves, finite)], n_out)
    out = []
    for (x, y), f, picked in zip(curves, finite, kept):
        keep = np.flatnonzero(f)[picked]
        if not f.all():  # show where the gaps were
            keep = np.union1d(keep, np.flatnonzero(~f)[:n_out])
        ys = y[keep].astype(np.float64).tolist()
        out.append((x[keep].tolist(),
                    [v if v == v and abs(v) != float("inf") else None for v in ys]))
    return out
