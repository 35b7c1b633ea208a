"""The environment files of a model folder, as MLflow writes them: ``requirements.txt`` (the
flavor's libraries at the versions installed now), ``python_env.yaml`` and ``conda.yaml``."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

REQUIREMENTS = "requirements.txt"
PYTHON_ENV = "python_env.yaml"
CONDA_ENV = "conda.yaml"


def version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def pinned(distributions: list[str], extra: list[str] | None = None) -> list[str]:
    """``name==version`` for each installed distribution (unpinned when not installed)."""
    out = []
    for name in distributions:
        version = version_of(name)
        out.append(f"{name}=={version}" if version else name)
    return out + list(extra or [])


def write_env(folder: Path, requirements: list[str]) -> dict[str, str]:
    """Write the three files; the ``env`` entry of the python_function flavor."""
    import yaml

    python = platform.python_version()
    (folder / REQUIREMENTS).write_text("\n".join(requirements) + "\n", encoding="utf-8")
    build = [f"pip=={version_of('pip')}" if version_of("pip") else "pip",
             f"setuptools=={version_of('setuptools')}" if version_of("setuptools") else
             "setuptools", "wheel"]
    python_env = {"python": python, "build_dependencies": build,
                  "dependencies": [f"-r {REQUIREMENTS}"]}
    (folder / PYTHON_ENV).write_text(yaml.safe_dump(python_env, sort_keys=False),
                                     encoding="utf-8")
    conda = {"channels": ["conda-forge"],
             "dependencies": [f"python={python}", "pip", {"pip": requirements}],
             "name": "mlflow-env"}
    (folder / CONDA_ENV).write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")
    return {"conda": CONDA_ENV, "virtualenv": PYTHON_ENV}


def read_requirements(folder: Path) -> list[str]:
    path = folder / REQUIREMENTS
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
