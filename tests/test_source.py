"""The architecture, checked on the source (AST): one-way layering between the packages, no
import cycles (lazy imports inside functions count, `TYPE_CHECKING` imports do not), click
only in the CLI, the library never prints, and the CLI's start-up weight."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_ledger

PKG = Path(__file__).resolve().parent.parent / "ledger"

# Each room of the package and the rooms it may import (besides itself). Dependencies point
# down: cli -> serve/models/mlflow_plugin -> registry/sync/hooks -> api -> query -> runs -> store
# -> errors/names. A new top-level module or package must be placed here to pass.
BASE = {"errors", "names", "schema"}
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "names": {"errors"},
    "schema": {"errors"},
    "store": BASE,
    # storage (large files off git: pointers, the content-addressed store) sits just above
    # store: the write and read paths of runs, registry packages and pushes call into it
    "storage": BASE | {"store"},
    "runs": BASE | {"store", "storage"},
    "query": BASE | {"store", "runs", "storage"},
    "api": BASE | {"store", "runs", "query", "storage"},
    "fluent": BASE | {"store", "runs", "query", "api", "storage"},
    "registry": BASE | {"store", "runs", "query", "api", "storage"},
    "sync": BASE | {"store", "runs", "query", "api", "registry", "storage"},
    "hooks": BASE | {"store", "runs", "api"},
    "models": BASE | {"store", "runs", "query", "api", "fluent", "registry", "storage",
                      "mlflow_compat"},
    "projects": BASE | {"store", "runs", "query", "api", "fluent", "registry", "models",
                        "storage", "sync"},
    "serve": BASE | {"store", "runs", "query", "api", "fluent", "registry", "models", "sync",
              "storage"},
    "mlflow_compat": BASE | {"store", "runs", "query", "api", "fluent", "registry", "storage"},
    "tracking": {"mlflow_compat"},
    "artifacts": {"mlflow_compat", "errors"},
    "exceptions": {"errors"},
    "entities": {"mlflow_compat"},
    "mlflow_plugin": BASE | {"store", "runs", "query", "api", "fluent", "registry", "models",
                             "storage", "sync", "mlflow_compat"},
    "cli": BASE | {"store", "runs", "query", "api", "fluent", "registry", "sync", "hooks",
                   "models", "serve", "storage", "projects", "mlflow_plugin", "mlflow_compat"},
    # `ledger/__init__.py` loads the public names lazily, by name, from the rooms below the CLI
    "__init__": set(),
}
HEAVY_FOR_CLI = ("dulwich", "pyarrow", "msgpack")


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every module this file imports at run time (at the top or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            subs = {f"{mod}.{a.name}" for a in node.names} & known
            # `from pkg import submodule` depends on the submodule (pkg's __init__ is the
            # package's own business); `from module import name` on the module
            found.update(subs or {mod})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PKG.rglob("*.py")}
    known = set(paths)
    return {name: imports_of(path, known) for name, path in paths.items()}


LAYERS["__init__"] = set(LAYERS) - {"cli", "__init__"}


def test_every_room_is_placed_in_the_layering() -> None:
    unplaced = {room(m) for m in graph()} - set(LAYERS)
    assert not unplaced, f"place these in LAYERS: {sorted(unplaced)}"


def test_dependencies_point_down() -> None:
    bad = []
    for mod, imported in graph().items():
        mine = room(mod)
        for dep in imported:
            if dep.split(".")[0] != "ledger" or dep == "ledger":
                continue
            theirs = room(dep)
            if theirs != mine and theirs not in LAYERS[mine]:
                bad.append(f"{mod} -> {dep}")
    assert not bad, bad


def test_no_import_cycles() -> None:
    g = graph()
    # every module imports the root package `ledger` first; its __init__ only loads lazily
    edges = {m: {d for d in deps if d in g and d != "ledger"} for m, deps in g.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges[v]:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            strongconnect(v)
    assert not cycles, cycles


def test_only_the_cli_imports_click_and_the_cli_imports_no_storage() -> None:
    for mod, imported in graph().items():
        uses_click = any(m == "click" or m.startswith("click.") for m in imported)
        if room(mod) != "cli":
            assert not uses_click, mod
            continue
        for heavy in HEAVY_FOR_CLI:
            assert not any(m.split(".")[0] == heavy for m in imported), (mod, heavy)


def test_the_library_never_prints() -> None:
    for path in PKG.rglob("*.py"):
        if room(module_name(path)) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path}:{node.lineno}"


def test_modules_stay_small() -> None:
    for path in PKG.rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 650, path


def test_signatures_are_verified_by_git_not_dulwich() -> None:
    # dulwich's verify_tag passes unsigned tags (DESIGN.md): signing stays with git itself
    for name in ("ledger.registry.signing", "ledger.registry.sshsig"):
        assert not any(m.startswith("dulwich") for m in graph()[name]), name


def test_every_error_is_a_ledger_error() -> None:
    from ledger import errors

    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.LedgerError)


def test_packaged_data_matches_the_canonical_copies() -> None:
    root = PKG.parent
    for canonical in [*(root / "hooks").iterdir(), *(root / "schemas").glob("*.json")]:
        packaged = PKG / canonical.parent.name / canonical.name
        assert packaged.read_bytes() == canonical.read_bytes(), packaged


@pytest.mark.parametrize("args", [["log", "-p", "a=1", "-m", "b=2"], ["start"], ["--help"]])
def test_cli_write_path_does_not_import_heavy_modules(repo: Path, args: list[str]) -> None:
    code = ("import sys\nfrom ledger import cli\ntry:\n    cli.main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('pyarrow', 'pandas', 'numpy', 'jsonschema', 'yaml', 'starlette',"
            " 'mlflow')\n         if m in sys.modules]\n"
            "sys.stderr.write('HEAVY=' + ','.join(heavy))\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True,
                          text=True)
    assert "HEAVY=" in proc.stderr, proc.stderr
    assert proc.stderr.rsplit("HEAVY=", 1)[1].strip() == "", proc.stderr


def test_only_the_run_store_moves_the_runs_ref() -> None:
    # commits, merges and init all go through RunStore.move_head (one compare-and-swap path)
    movers = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("update", "set_if_equals", "set_ref")
                    and any(isinstance(a, ast.Name) and a.id == "RUNS_REF" for a in node.args)):
                movers.append(module_name(path))
    assert movers == ["ledger.runs.store"], movers


def test_cli_read_path_does_not_import_pandas(repo: Path) -> None:
    # pyarrow imports pandas at its first conversion when pandas is installed (query/lean.py)
    assert run_ledger("log", "-p", "a=1", "-m", "m=2", cwd=repo).code == 0
    code = ("import sys\nfrom ledger import cli\ntry:\n    cli.main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "sys.stderr.write('PANDAS=' + str('pandas' in sys.modules))\n"
            "import pandas, pyarrow\n"
            "t = pyarrow.Table.from_pandas(pandas.DataFrame({'x': [1]}))\n"
            "sys.stderr.write(' BACK=' + str(t.to_pandas()['x'][0]))\n")
    for args in (["runs", "--where", "metrics.m > 1", "--format", "csv"], ["runs"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=repo,
                              capture_output=True, text=True)
        assert "PANDAS=False BACK=1" in proc.stderr, proc.stderr
        assert "1" in proc.stdout
