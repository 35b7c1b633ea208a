"""MLflow's model registry over the registry's GTO tags (SPEC §6).

A registered model is a GTO model name; MLflow's version N is the N-th semantic version of the
model in order (v0.0.1 is 1, the next registered one 2, …; deregistered ones keep their place);
an alias or a stage is a GTO stage (`set_registered_model_alias(m, "champion", 2)` is
`ledger model promote m v0.0.2 champion`). Registering builds the version's package from the
run's artifacts in git. Descriptions and tags on models and versions are not kept.
"""

from __future__ import annotations

import re
from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    RegisteredModel,
    RegisteredModelAlias,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore

from ledger.errors import RegistryLookupError
from ledger.mlflow_compat import uri
from ledger.mlflow_plugin import common
from ledger.mlflow_plugin.common import translated
from ledger.registry import api as registry
from ledger.registry.state import Model, Version, load_state
from ledger.registry.tags import SemVer, check_name, parse_version

_LOGGED = re.compile(r"^models:/(m-[0-9a-f]{40})(?:/(.*))?$")


class LedgerRegistryStore(AbstractStore):
    def __init__(self, store_uri: str | None = None) -> None:
        super().__init__()
        self.store_uri = store_uri or "ledger:."
        self.ledger = common.ledger_for(self.store_uri)

    # -- reading the tags ---------------------------------------------------------------------
    def _model(self, name: str) -> Model:
        check_name(name)
        try:
            return load_state(self.ledger.path, [name]).model(name)
        except RegistryLookupError:
            return Model(name)  # no tags yet

    @staticmethod
    def _ordered(model: Model) -> list[SemVer]:
        return sorted(model.versions)

    def _semver(self, model: Model, version: str | int) -> SemVer:
        """The semantic version of MLflow's version N; a deleted (deregistered) one is not
        found, as in MLflow, though it keeps its number."""
        ordered = self._ordered(model)
        n = int(version)
        if not 1 <= n <= len(ordered) or model.versions[ordered[n - 1]].deregistered:
            raise common.not_found(
                f"Model Version (name={model.name}, version={version}) not found")
        return ordered[n - 1]

    def _existing(self, name: str) -> Model:
        """A registered model that exists for MLflow: it has a version and is not deleted
        (deprecated)."""
        model = self._model(name)
        if not model.versions or model.deprecated:
            raise common.not_found(f"Registered Model with name={name} not found")
        return model

    def _version(self, model: Model, v: Version) -> ModelVersion:
        number = self._ordered(model).index(v.version) + 1  # an int, as MLflow's stores give
        aliases = sorted(s for s, e in model.stages().items() if e.version == v.version)
        source = f"models:/{model.name}/{number}"
        return ModelVersion(model.name, number, v.time * 1000,  # type: ignore[arg-type]
                            None, None, v.tagger, "None", source, v.run_id,
                            "FAILED_REGISTRATION" if v.deregistered else "READY",
                            aliases=aliases)

    def _registered(self, model: Model) -> RegisteredModel:
        live = [v for v in model.versions.values() if not v.deregistered]
        latest = [self._version(model, max(live, key=lambda v: v.version))] if live else []
        times = [v.time for v in model.versions.values()] or [0]
        aliases = [RegisteredModelAlias(s, self._version(model, model.versions[e.version])
                                        .version)
                   for s, e in sorted(model.stages().items())
                   if e.version in model.versions and not model.versions[e.version].deregistered]
        return RegisteredModel(model.name, min(times) * 1000, max(times) * 1000,
                               latest_versions=latest, aliases=aliases)

    # -- registered models --------------------------------------------------------------------
    @translated
    def create_registered_model(self, name: str, tags: Any = None, description: Any = None,
                                deployment_job_id: Any = None) -> RegisteredModel:
        model = self._model(name)
        if model.versions:
            raise common.already_exists(f"Registered Model (name={name}) already exists.")
        return RegisteredModel(name)  # exists in git once it has a version

    @translated
    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registered(self._existing(name))

    @translated
    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = None, order_by: Any = None,
                                 page_token: Any = None) -> PagedList:
        names = [m.name for m in registry.list_models(repo=self.ledger)]
        wanted = _name_filter(filter_string)
        models = [self._model(n) for n in names if wanted(n)]
        found = [self._registered(m) for m in models if m.versions and not m.deprecated]
        return PagedList(found[:max_results] if max_results else found, None)

    @translated
    def delete_registered_model(self, name: str) -> None:
        registry.deprecate_model(name, repo=self.ledger)

    def update_registered_model(self, name: str, description: Any,
                                deployment_job_id: Any = None) -> RegisteredModel:
        return self.get_registered_model(name)  # descriptions are not kept

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        raise common.MlflowException("a model's tags name it; it cannot be renamed",
                                     common.INVALID_PARAMETER_VALUE)

    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        return None  # not kept: GTO tags have no free-form model tags

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        return None

    @translated
    def get_latest_versions(self, name: str, stages: list[str] | None = None
                            ) -> list[ModelVersion]:
        model = self._model(name)
        if not stages:
            live = [v for v in model.versions.values() if not v.deregistered]
            return [self._version(model, max(live, key=lambda v: v.version))] if live else []
        out = []
        for stage in stages:
            event = model.current(stage.lower())
            if event is not None and event.version in model.versions:
                out.append(self._version(model, model.versions[event.version]))
        return out

    # -- versions -----------------------------------------------------------------------------
    @translated
    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: Any = None, run_link: Any = None, description: Any = None,
                             local_model_path: Any = None, model_id: str | None = None
                             ) -> ModelVersion:
        run, path = self._source(source, run_id, model_id)
        active = common.live(run)
        if active is not None:
            active.flush()  # the package is built from what is committed
        done = registry.register_model(name, run, path=path or None, allow_unfinished=True,
                                       repo=self.ledger)
        model = self._model(name)
        return self._version(model, model.versions[parse_version(done.version)])

    def _source(self, source: str, run_id: str | None, model_id: str | None
                ) -> tuple[str, str]:
        m = _LOGGED.match(source or "")
        if model_id or m:
            from ledger.mlflow_plugin import logged_models
            from ledger.mlflow_plugin.tracking_store import LedgerTrackingStore

            mid = model_id or (m.group(1) if m else "")
            tracking = LedgerTrackingStore(self.store_uri)  # type: ignore[abstract]
            found = logged_models.get(tracking, mid)
            _, rid, path = uri.split_artifact_uri(found.artifact_location)
            return rid, path
        if source.startswith("runs:/"):
            rid, _, path = source[len("runs:/"):].partition("/")
            return rid, path.strip("/")
        if source.startswith("ledger:"):
            _, rid, path = uri.split_artifact_uri(source)
            return rid, path
        if run_id:
            return run_id, ""
        raise common.MlflowException(
            f"cannot register {source!r}: give a runs:/, models:/m-… or ledger: URI",
            common.INVALID_PARAMETER_VALUE)

    @translated
    def get_model_version(self, name: str, version: str) -> ModelVersion:
        model = self._existing(name)
        return self._version(model, model.versions[self._semver(model, version)])

    @translated
    def get_model_version_download_uri(self, name: str, version: str) -> str:
        model = self._model(name)
        v = self._semver(model, version)
        folder = registry.load_model_dir(f"{name}@{v}", repo=self.ledger)
        return folder.as_uri()

    @translated
    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = None, order_by: Any = None,
                              page_token: Any = None) -> PagedList:
        clauses = _clauses(filter_string)
        names = ([clauses["name"]] if "name" in clauses
                 else [m.name for m in registry.list_models(repo=self.ledger)])
        out = []
        for n in names:
            model = self._model(n)
            if model.deprecated:
                continue
            for v in sorted(model.versions.values(), key=lambda v: v.version, reverse=True):
                if v.deregistered or "run_id" in clauses and v.run_id != clauses["run_id"]:
                    continue
                out.append(self._version(model, v))
        return PagedList(out[:max_results] if max_results else out, None)

    @translated
    def transition_model_version_stage(self, name: str, version: str, stage: str,
                                       archive_existing_versions: bool) -> ModelVersion:
        model = self._model(name)
        registry.promote_model(name, str(self._semver(model, version)), stage.lower(),
                               repo=self.ledger)
        return self.get_model_version(name, version)

    @translated
    def delete_model_version(self, name: str, version: str) -> None:
        model = self._model(name)
        registry.deregister_model(name, str(self._semver(model, version)), repo=self.ledger)

    def update_model_version(self, name: str, version: str, description: Any) -> ModelVersion:
        return self.get_model_version(name, version)

    def set_model_version_tag(self, name: str, version: str, tag: Any) -> None:
        return None  # not kept (see the module docstring)

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        return None

    # -- aliases (stages) ---------------------------------------------------------------------
    @translated
    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        model = self._existing(name)
        check_name(alias, "alias")
        target = self._semver(model, version)
        held = model.current(alias)
        if held is not None and held.version is not None and held.version != target:
            # an alias names one version: the one that had it loses it (GTO would keep it in
            # the stage, and it would come back when the new one is unassigned)
            registry.demote_model(name, str(held.version), alias, repo=self.ledger)
        registry.promote_model(name, str(target), alias, repo=self.ledger)

    @translated
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        model = self._existing(name)
        event = model.current(alias)
        if event is None or event.version is None:
            raise common.not_found(f"Registered model alias {alias} not found.")
        while event is not None and event.version is not None:  # older holders too (GTO)
            registry.demote_model(name, str(event.version), alias, repo=self.ledger)
            event = self._model(name).current(alias)

    @translated
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        model = self._model(name)
        event = model.current(alias)
        if event is None or event.version not in model.versions:
            raise common.MlflowException(  # MLflow's code for a missing alias
                f"Registered model alias {alias} not found.", common.INVALID_PARAMETER_VALUE)
        return self._version(model, model.versions[event.version])


def _clauses(filter_string: str | None) -> dict[str, str]:
    out = {}
    for clause in re.split(r"\s+AND\s+", filter_string or "", flags=re.I):
        m = re.fullmatch(r"\s*(name|run_id)\s*=\s*['\"]([^'\"]*)['\"]\s*", clause, re.I)
        if m:
            out[m.group(1).lower()] = m.group(2)
        elif clause.strip():
            raise common.MlflowException(f"unsupported model version filter {clause!r}",
                                         common.INVALID_PARAMETER_VALUE)
    return out


_NOT_A_PROMPT = re.compile(  # MLflow 3's client adds it to every search_registered_models
    r"(?:^|\s+AND\s+)tags?\.`mlflow\.prompt\.is_prompt`\s*!=\s*'true'\s*$", re.I)


def _name_filter(filter_string: str | None) -> Any:
    filter_string = _NOT_A_PROMPT.sub("", filter_string or "").strip()
    if not filter_string:
        return lambda n: True
    m = re.fullmatch(r"\s*name\s*(=|LIKE|ILIKE)\s*['\"]([^'\"]*)['\"]\s*", filter_string, re.I)
    if m is None:
        raise common.MlflowException(f"unsupported model filter {filter_string!r}",
                                     common.INVALID_PARAMETER_VALUE)
    if m.group(1) == "=":
        return lambda n: n == m.group(2)
    pattern = "^" + re.escape(m.group(2)).replace("%", ".*").replace("_", ".") + "$"
    return lambda n: re.match(pattern, n, re.I if m.group(1).upper() == "ILIKE" else 0)
