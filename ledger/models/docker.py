"""``ledger model dockerfile``: a Docker build context that serves one model.

    DIR/Dockerfile   python base image, the model's requirements, the ledger, the server
    DIR/model/       the model folder (MLmodel, flavor files, requirements.txt, …)

The image's command is ``ledger model serve model`` run in ``/opt/ml``; it listens on
``$LEDGER_SERVE_HOST`` (0.0.0.0 inside the container, so a published port reaches it) and
``$LEDGER_SERVE_PORT`` (8080).
"""

from __future__ import annotations

import json
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InvalidInputError
from ledger.models.env import REQUIREMENTS

MODEL_DIR = "model"
WORKDIR = "/opt/ml"
PORT = 8080


@dataclass(frozen=True)
class DockerContext:
    folder: Path
    dockerfile: Path
    command: list[str]  # the image's CMD, run in WORKDIR


def command(workers: int) -> list[str]:
    return ["ledger", "model", "serve", MODEL_DIR, "--workers", str(workers)]


def write_context(model_folder: Path, out: str | Path, *, ledger_spec: str = "ledger[serve]",
                  workers: int = 2, base_image: str | None = None) -> DockerContext:
    """Write the build context into ``out`` (a new or empty folder)."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInputError(f"{folder} is not empty; give a new folder for the context")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model_folder, folder / MODEL_DIR,
                    ignore=shutil.ignore_patterns("ledger-model.json"))
    image = base_image or f"python:{'.'.join(platform.python_version_tuple()[:2])}-slim"
    cmd = command(workers)
    has_requirements = (folder / MODEL_DIR / REQUIREMENTS).is_file()
    install = (f"-r {MODEL_DIR}/{REQUIREMENTS} " if has_requirements else "") + f'"{ledger_spec}"'
    text = "\n".join([
        f"FROM {image}",
        f"WORKDIR {WORKDIR}",
        f"COPY {MODEL_DIR} {WORKDIR}/{MODEL_DIR}",
        f"RUN pip install --no-cache-dir {install}",
        f"ENV LEDGER_SERVE_HOST=0.0.0.0 LEDGER_SERVE_PORT={PORT}",
        f"EXPOSE {PORT}",
        f"CMD {json.dumps(cmd)}",
        "",
    ])
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(text, encoding="utf-8")
    return DockerContext(folder, dockerfile, cmd)
