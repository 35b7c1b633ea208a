"""pyarrow without pandas, for processes that never hand pandas objects to pyarrow.

pyarrow imports pandas, when it is installed, at its first array conversion (``pa.array``,
``pa.scalar``, ``pa.table``), to check whether the data is a DataFrame: 0.3 s on a quiet
machine, seconds on a busy one, for a `ledger runs` that prints a table. The CLI's read
commands call :func:`arrow_without_pandas` first: pyarrow tries pandas once, finds it absent,
and remembers. A later real ``import pandas`` still works, and pyarrow's own pandas
conversions import it again when asked; only the "is this a DataFrame?" checks keep saying no,
which is why the library itself (whose callers may pass DataFrames) never calls this.
"""

from __future__ import annotations

import sys


class _NoPandas:
    """A finder that says pandas is not installed (Cython's import reads ``sys.modules``
    itself, so a None there is not enough)."""

    @staticmethod
    def find_spec(name: str, *_args: object) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'", name="pandas")


def arrow_without_pandas() -> None:
    if "pandas" in sys.modules or "pyarrow.lib" in sys.modules:
        return  # pandas is here already, or pyarrow has made up its mind
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
    try:
        import pyarrow as pa

        pa.array([0])
    finally:
        sys.meta_path.remove(finder)  # type: ignore[arg-type]
