"""Source rules for ledger/registry: the library never prints, nor reaches for the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import ledger.registry

PACKAGE = Path(ledger.registry.__file__).parent
# dulwich: signatures are verified by git itself (dulwich's verify_tag passes unsigned tags)
FORBIDDEN_IMPORTS = ("click", "ledger.cli", "ledger.render", "dulwich")


def modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def test_no_print_and_no_forbidden_imports() -> None:
    for path in modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path.name}:{node.lineno} prints"
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN_IMPORTS), f"{path.name} imports {name}"


def test_modules_stay_small() -> None:
    for path in modules():
        assert len(path.read_text().splitlines()) < 450, f"{path.name} is too long"
