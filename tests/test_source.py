"""The layering of STYLE.md, checked on the source (AST), and the CLI's start-up weight."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "ledger"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def modules() -> dict[str, set[str]]:
    return {str(p.relative_to(PKG.parent)): imports_of(p) for p in PKG.rglob("*.py")}


def test_storage_knows_nothing_of_runs() -> None:
    for name, imported in modules().items():
        if name.startswith("ledger/store/"):
            bad = {m for m in imported if m.startswith("ledger.") and not
                   m.startswith(("ledger.store", "ledger.errors", "ledger.names"))}
            assert not bad, (name, bad)


def test_only_the_cli_imports_click_and_the_cli_imports_no_storage() -> None:
    for name, imported in modules().items():
        uses_click = any(m == "click" or m.startswith("click.") for m in imported)
        is_cli = name == "ledger/cli.py" or name.startswith("ledger/cli_")
        if not is_cli:
            assert not uses_click, name
            continue
        for heavy in ("dulwich", "pyarrow", "msgpack"):
            assert not any(m.split(".")[0] == heavy for m in imported), (name, heavy)


def test_the_library_never_prints() -> None:
    for path in PKG.rglob("*.py"):
        if path.name in ("cli.py", "render.py") or path.name.startswith("cli_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path}:{node.lineno}"


def test_every_error_is_a_ledger_error() -> None:
    from ledger import errors

    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.LedgerError)


@pytest.mark.parametrize("args", [["log", "-p", "a=1", "-m", "b=2"], ["start"], ["--help"]])
def test_cli_write_path_does_not_import_heavy_modules(repo: Path, args: list[str]) -> None:
    code = ("import sys\nfrom ledger import cli\ntry:\n    cli.main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('pyarrow', 'pandas', 'numpy', 'jsonschema')\n"
            "         if m in sys.modules]\n"
            "sys.stderr.write('HEAVY=' + ','.join(heavy))\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True,
                          text=True)
    assert "HEAVY=" in proc.stderr, proc.stderr
    assert proc.stderr.rsplit("HEAVY=", 1)[1].strip() == "", proc.stderr
