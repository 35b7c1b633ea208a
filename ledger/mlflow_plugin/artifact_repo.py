"""MLflow's artifact repository for `ledger:///repo/runs/<id>/artifacts[/path]`: artifacts are
git blobs in the run's folder, journaled with the run while it is open in this process."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from ledger.errors import InvalidInputError
from ledger.mlflow_compat import uri
from ledger.mlflow_compat.client import list_children
from ledger.mlflow_plugin import common
from ledger.mlflow_plugin.common import translated


class LedgerArtifactRepository(ArtifactRepository):
    def __init__(self, artifact_uri: str, tracking_uri: str | None = None,
                 registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        repo, self.run_id, self.base = uri.split_artifact_uri(artifact_uri)
        self.ledger = common.ledger_for(f"ledger://{repo}")

    def _dest(self, *parts: str | None) -> str:
        return posixpath.join(self.base, *[p.strip("/") for p in parts if p])

    @translated
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        dest_dir = self._dest(artifact_path) or None
        active = common.live(self.run_id)
        if active is not None:
            active.log_artifact(local_file, dest_dir)
        else:
            name = os.path.basename(local_file)
            dest = posixpath.join(dest_dir, name) if dest_dir else name
            self.ledger.log_to(self.run_id, artifacts=[(local_file, dest)])

    @translated
    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        dest_dir = self._dest(artifact_path) or None
        if not any(p.is_file() for p in Path(local_dir).rglob("*")):
            return  # MLflow accepts an empty folder
        active = common.live(self.run_id)
        if active is not None:
            active.log_artifacts(local_dir, dest_dir)
        else:
            self.ledger.log_to(self.run_id, artifacts=[(local_dir, dest_dir)])

    @translated
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        full = self._dest(path)
        files = self.ledger.list_artifacts(self.run_id)
        if any(f["path"] == full for f in files):
            return []  # a file, not a folder
        strip = len(self.base) + 1 if self.base else 0
        return [FileInfo(f.path[strip:], f.is_dir, f.file_size)
                for f in list_children(files, full or None)]

    @translated
    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        data = self.ledger.read_artifact(self.run_id, self._dest(remote_file_path))
        tmp = f"{local_path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        raise InvalidInputError("ledger artifacts are part of the run's history and cannot be "
                                "deleted; delete the run instead")

    def _is_directory(self, artifact_path: str) -> bool:
        full = self._dest(artifact_path)
        return any(f["path"].startswith(full + "/") if full else True
                   for f in self.ledger.list_artifacts(self.run_id))

    def create_multipart_upload(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("multipart upload is not supported by ledger artifacts")

    def complete_multipart_upload(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("multipart upload is not supported by ledger artifacts")

    def abort_multipart_upload(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("multipart upload is not supported by ledger artifacts")

    def get_download_presigned_url(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("presigned URLs are not supported by ledger artifacts")
