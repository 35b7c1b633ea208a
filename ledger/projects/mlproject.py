"""MLflow's ``MLproject`` format: entry points, typed parameters, command templates, envs.

    name: iris
    python_env: python_env.yaml        # or conda_env: conda.yaml
    entry_points:
      main:
        parameters:
          alpha: {type: float, default: 0.5}
          data: path
        command: "python train.py --alpha {alpha} --data {data}"

Types are MLflow's ``string``, ``float``, ``path`` (an existing file or folder, made absolute)
and ``uri``, plus ``int``. Every value is checked before anything runs; values reach the
command shell-quoted. Parameters an entry point does not declare are appended as
``--key value``, as MLflow does. Without an ``MLproject`` file, a ``.py`` or ``.sh`` file of the
project is an entry point of its own.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInputError, ReproduceError

FILE_NAME = "MLproject"
TYPES = ("string", "float", "path", "uri", "int")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: Any = None

    def check(self, value: Any, cwd: Path) -> str:
        """The value as it reaches the command; an error naming the parameter if it is not
        of its type."""
        text = str(value)
        if self.type == "float":
            try:
                number = float(text)
            except ValueError:
                raise self._bad(text, "a number") from None
            if math.isnan(number) and text.strip().lower() not in ("nan", "+nan", "-nan"):
                raise self._bad(text, "a number")
        elif self.type == "int":
            try:
                int(text, 10)
            except ValueError:
                raise self._bad(text, "an integer") from None
        elif self.type == "path":
            if _URI.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
                raise self._bad(text, "a local path (a URI is not fetched here)")
            target = Path(os.path.expanduser(text))
            target = target if target.is_absolute() else cwd / target
            if not target.exists():
                raise self._bad(text, "an existing file or folder")
            return str(target.resolve())
        elif self.type == "uri":
            if not text.strip():
                raise self._bad(text, "a URI or path")
        return text

    def _bad(self, text: str, expected: str) -> InvalidInputError:
        return InvalidInputError(
            f"parameter {self.name!r} is of type {self.type}: {text!r} is not {expected}")


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def resolve(self, given: dict[str, str], cwd: Path) -> tuple[dict[str, str], str]:
        """(the parameters to log, the command to run) for the values given."""
        values: dict[str, str] = {}
        for name, param in self.parameters.items():
            if name in given:
                values[name] = param.check(given[name], cwd)
            elif param.default is not None:
                values[name] = param.check(param.default, cwd)
            else:
                raise InvalidInputError(
                    f"entry point {self.name!r} needs the parameter {name!r} "
                    f"({param.type}): pass -P {name}=VALUE")
        extra = {k: v for k, v in given.items() if k not in self.parameters}
        quoted = {k: shlex.quote(v) for k, v in values.items()}
        try:
            command = self.command.format(**quoted)
        except (KeyError, IndexError, ValueError) as exc:
            raise ReproduceError(f"entry point {self.name!r}: its command template uses "
                                 f"{exc} that is not a parameter") from None
        for key, value in extra.items():
            command += f" --{key} {shlex.quote(value)}"
        return {**values, **extra}, command


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    entry_points: dict[str, EntryPoint]
    python_env: Path | None = None
    conda_env: Path | None = None

    def entry_point(self, name: str) -> EntryPoint:
        if name in self.entry_points:
            return self.entry_points[name]
        script = self.root / name
        if script.is_file() and script.suffix in (".py", ".sh"):
            runner = "python" if script.suffix == ".py" else os.environ.get("SHELL", "bash")
            return EntryPoint(name, f"{runner} {shlex.quote(name)}")
        known = ", ".join(sorted(self.entry_points)) or "none"
        raise InvalidInputError(f"project {self.name!r} has no entry point {name!r} "
                                f"(entry points: {known}; or a .py/.sh file of the project)")


def load(root: str | os.PathLike[str]) -> Project:
    """The project in folder ``root`` (its ``MLproject`` file, if it has one)."""
    folder = Path(root).resolve()
    if not folder.is_dir():
        raise InvalidInputError(f"no project folder {str(root)!r}")
    path = next((p for p in (folder / FILE_NAME, folder / "mlproject") if p.is_file()), None)
    if path is None:
        conda = folder / "conda.yaml"
        return Project(folder, folder.name, {}, conda_env=conda if conda.is_file() else None)
    doc = read_yaml(path)
    name = str(doc.get("name") or folder.name)
    if "docker_env" in doc:
        raise ReproduceError(f"{path}: docker_env is not supported; use python_env or conda_env")
    points = {}
    for ep_name, spec in (doc.get("entry_points") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("command"), str):
            raise ReproduceError(f"{path}: entry point {ep_name!r} needs a command")
        params = {str(k): _parameter(path, str(k), v)
                  for k, v in (spec.get("parameters") or {}).items()}
        points[str(ep_name)] = EntryPoint(str(ep_name), spec["command"], params)
    env_file = {key: folder / doc[key] for key in ("python_env", "conda_env") if doc.get(key)}
    for key, env_path in env_file.items():
        if not env_path.is_file():
            raise ReproduceError(f"{path}: {key} {env_path.name!r} does not exist")
    return Project(folder, name, points, env_file.get("python_env"), env_file.get("conda_env"))


def _parameter(path: Path, name: str, spec: Any) -> Parameter:
    if isinstance(spec, str):
        kind, default = spec, None
    elif isinstance(spec, dict):
        kind, default = str(spec.get("type", "string")), spec.get("default")
    else:
        raise ReproduceError(f"{path}: parameter {name!r} must be a type or a table")
    if kind not in TYPES:
        raise ReproduceError(f"{path}: parameter {name!r} has the unknown type {kind!r} "
                             f"(types: {', '.join(TYPES)})")
    return Parameter(name, kind, default)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ReproduceError("reading an MLproject needs PyYAML: pip install pyyaml") from None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReproduceError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict):
        raise ReproduceError(f"{path} is not a YAML mapping")
    return doc


def parse_params(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``-P K=V`` pairs as a dict (a bare K is an error)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"bad parameter {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out
