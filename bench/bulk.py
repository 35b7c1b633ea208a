"""Bulk-load runs of the benchmarks' shape (20 params, 5 metrics x 10 steps, 3 tags) straight
through the run store, many runs per commit (as a merge or an import writes them): the fast
way to give a benchmark a large history. Imported by the benchmark workers."""

from __future__ import annotations

from ledger.api import Ledger
from ledger.runs.store import Update


def fill(lg: Ledger, n: int, prefix: str = "run", group_size: int = 1000,
         experiments: int = 5) -> None:
    """Commit `n` finished runs named `<prefix>-<i>`, in experiments `exp0`…`exp4` (or as
    many as `experiments`)."""
    done = 0
    while done < n:
        group = []
        for _ in range(min(group_size, n - done)):
            r = done + len(group)
            tags = {"a": "x", "b": str(r % 7), "c": prefix}
            params = {f"p{i}": (i * r) % 11 for i in range(20)}
            rec, files = lg._new_record(f"exp{r % experiments}", f"{prefix}-{r}", tags, params,
                                        ["bench"])
            rec.finish("FINISHED", rec.start_time + 1, (rec.start_time, 1))
            points = [(f"m{m}", s, rec.start_time, ((r * 7919 + m) % 1000) / 1000 / (s + 1))
                      for s in range(10) for m in range(5)]
            group.append(Update(rec.id, (lambda x: lambda cur: x)(rec), points=points,
                                compact=True, files=files, event="finished"))
        lg.store.commit(group)
        done += len(group)
