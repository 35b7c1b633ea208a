"""``ledger.toml``: the reviewed desired state of the registry, its policy, check and plan.

The format (JSON Schema: ``schemas/ledger-toml.schema.json``)::

    [policy]                                  # defaults for every model
    require_signed = true                     # assignments must be signed tags (default false)
    stages = ["staging", "production"]        # allowed stages, in promotion order (optional)

    [policy.thresholds]                       # stage = metric thresholds a version must meet
    production = ["metrics.acc >= 0.9"]

    [registry.iris]                           # model iris: stage = version
    staging = "v1.3.0"
    production = "v1.2.0"

    [registry.iris.policy]                    # optional, overrides [policy] for iris only:
    require_signed = false                    #   require_signed and stages replace the defaults,
    [registry.iris.policy.thresholds]         #   thresholds replace the default list of the
    production = ["metrics.acc >= 0.95"]      #   stages they name (other stages keep theirs)

Rules that :func:`check` enforces, each broken rule giving one :class:`Problem`:

* the file matches the schema (``policy`` is reserved, so it is not a stage name);
* each desired version is registered in git and not deregistered; the model is not deprecated;
* with ``stages``: each desired stage is one of them, and the version was assigned every
  earlier stage at some point (``staging`` before ``production``);
* the version's run (the ``run: <id>`` line of its tag message) meets the stage's thresholds;
* with ``require_signed``: an assignment already in effect was made by a signed tag.

The whole file is checked, not only the change, so tightening a policy shows what breaks it.
:func:`plan` lists exactly the assignment tags that make git match the file (none when it
does); stages that the file does not name are left alone. :func:`apply` creates them.
"""

from __future__ import annotations

import math
import operator
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import DesiredStateError, LedgerError, RegistryLookupError, SignatureError
from ledger.registry import quickcheck
from ledger.registry.state import RegistryState
from ledger.registry.tags import SemVer, assignment_tag, parse_version
from ledger.store.git import RepoLike

SCHEMA_NAME = "ledger-toml.schema.json"
MetricsOf = Callable[[str], Mapping[str, float]]

_THRESHOLD = re.compile(
    r"\s*metrics\.(?P<key>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Threshold:
    """``metrics.KEY OP VALUE``."""

    metric: str
    op: str
    value: float

    def holds(self, actual: float) -> bool:
        return not math.isnan(actual) and _OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"metrics.{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Policy:
    require_signed: bool = False
    stages: tuple[str, ...] | None = None  # in promotion order; None: any stage, no order
    thresholds: Mapping[str, tuple[Threshold, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelState:
    """The desired stages of one model, with the policy in force for it."""

    name: str
    stages: Mapping[str, SemVer]
    policy: Policy


@dataclass(frozen=True)
class Desired:
    models: Mapping[str, ModelState]
    policy: Policy
    source: str = "ledger.toml"


@dataclass(frozen=True)
class Problem:
    """One broken rule; ``str()`` is a one-line message."""

    code: str  # schema, deprecated, missing-version, deregistered, unknown-stage,
    #            skipped-stage, no-run, metrics, threshold, unsigned
    message: str
    model: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Action:
    """One assignment tag to create."""

    model: str
    stage: str
    version: SemVer
    commit: str
    tag: str
    message: str
    require_signed: bool = False

    def __str__(self) -> str:
        return f"create {self.tag} ({self.model} {self.version} -> {self.stage})"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of ``ledger.toml``."""
    from ledger import schema

    loaded: dict[str, Any] = schema.load(SCHEMA_NAME.removesuffix(".schema.json"))
    return loaded


def schema_problems(doc: Mapping[str, Any], source: str = "ledger.toml") -> list[Problem]:
    """Every schema violation of a parsed document, one line each."""
    schema = load_schema()
    if quickcheck.is_valid(doc, schema):  # no need to load jsonschema
        return []
    import jsonschema  # only an invalid file pays for it: it words the problems

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.path]):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        what = err.schema.get("description") if isinstance(err.schema, dict) else None
        if err.validator in ("pattern", "not", "propertyNames") and what:
            detail = f"{err.instance!r} is not {what}"
        else:
            detail = err.message
        problems.append(Problem("schema", f"{source}: {where}: {detail}"))
    return problems


def read_desired(path: str | os.PathLike[str]) -> Desired:
    """Read and validate ``ledger.toml``; raises :class:`DesiredStateError`."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DesiredStateError(f"cannot read {p}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DesiredStateError(f"{p.name} is not UTF-8 text (byte {exc.start}); "
                                "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise DesiredStateError(f"{p.name}: invalid TOML: {exc}") from exc
    return parse_desired(doc, p.name)


def parse_desired(doc: Mapping[str, Any], source: str = "ledger.toml") -> Desired:
    """Validate a parsed document against the schema and build :class:`Desired`."""
    problems = schema_problems(doc, source)
    if problems:
        lines = tuple(str(p) for p in problems)
        raise DesiredStateError(
            f"{lines[0]} (and {len(lines) - 1} more)" if len(lines) > 1 else lines[0], lines
        )
    default = _policy(doc.get("policy", {}), Policy())
    models = {}
    for name, table in doc.get("registry", {}).items():
        stages = {k: parse_version(v) for k, v in table.items() if k != "policy"}
        models[name] = ModelState(name, stages, _policy(table.get("policy", {}), default))
    return Desired(models, default, source)


def _policy(table: Mapping[str, Any], base: Policy) -> Policy:
    thresholds = dict(base.thresholds)
    for stage, exprs in table.get("thresholds", {}).items():
        thresholds[stage] = tuple(_threshold(e) for e in exprs)
    stages = table.get("stages")
    return Policy(
        require_signed=table.get("require_signed", base.require_signed),
        stages=tuple(stages) if stages is not None else base.stages,
        thresholds=thresholds,
    )


def _threshold(text: str) -> Threshold:
    m = _THRESHOLD.fullmatch(text)
    if m is None:  # the schema's pattern lets only well-formed ones through
        raise DesiredStateError(f"invalid threshold {text!r}")
    return Threshold(m.group("key").strip(), m.group("op"), float(m.group("value")))


def check(
    desired: Desired | Mapping[str, Any] | str | os.PathLike[str],
    state: RegistryState,
    metrics_of: MetricsOf,
) -> list[Problem]:
    """Every way in which the desired state breaks the rules; empty when it holds."""
    if isinstance(desired, Mapping):
        problems = schema_problems(desired)
        if problems:
            return problems
        desired = parse_desired(desired)
    elif not isinstance(desired, Desired):
        try:
            desired = read_desired(desired)
        except DesiredStateError as exc:
            return [Problem("schema", line) for line in (exc.problems or (str(exc),))]
    problems = []
    for model in desired.models.values():
        for stage in _ordered(model):
            problems += _check_stage(model, stage, state, metrics_of)
    return problems


def _ordered(model: ModelState) -> list[str]:
    order = model.policy.stages or ()
    return sorted(model.stages, key=lambda s: (order.index(s) if s in order else len(order), s))


def _check_stage(
    model: ModelState, stage: str, state: RegistryState, metrics_of: MetricsOf
) -> list[Problem]:
    name, version = model.name, model.stages[stage]
    want = f"{name}: {stage} = {version}"

    def problem(code: str, message: str) -> Problem:
        return Problem(code, message, name, stage)

    found = state.version(name, version)
    if found is None:
        return [problem("missing-version", f"{want}, but {name}@{version} is not registered")]
    if found.deregistered:
        return [problem("deregistered", f"{want}, but {name}@{version} was deregistered")]
    out = []
    registered = state.model(name)
    if registered.deprecated:
        out.append(problem("deprecated", f"{want}, but model {name} is deprecated"))
    order = model.policy.stages
    if order is not None:
        if stage not in order:
            allowed = ", ".join(order)
            out.append(
                problem(
                    "unknown-stage", f"{want}: stage {stage} is not in policy.stages ({allowed})"
                )
            )
        else:
            for earlier in order[: order.index(stage)]:
                if not registered.was_assigned(version, earlier):
                    out.append(
                        problem(
                            "skipped-stage",
                            f"{want}, but {version} was never in {earlier} "
                            f"(policy.stages: {earlier} comes before {stage})",
                        )
                    )
    out += _check_thresholds(model, stage, found.run_id, want, problem, metrics_of)
    current = registered.current(stage)
    if (
        model.policy.require_signed
        and current
        and current.version == version
        and not current.signed
    ):
        out.append(
            problem(
                "unsigned",
                f"{want} is in effect through the unsigned tag "
                f"{current.tag} (policy.require_signed)",
            )
        )
    return out


def _check_thresholds(
    model: ModelState,
    stage: str,
    run_id: str | None,
    want: str,
    problem: Callable[[str, str], Problem],
    metrics_of: MetricsOf,
) -> list[Problem]:
    thresholds = model.policy.thresholds.get(stage, ())
    if not thresholds:
        return []
    if run_id is None:
        return [
            problem(
                "no-run",
                f"{want}: the version's tag names no run ('run: <id>' line), "
                "so its metrics cannot be checked",
            )
        ]
    try:
        metrics = metrics_of(run_id)
    except LedgerError as exc:
        return [problem("metrics", f"{want}: cannot read the metrics of run {run_id}: {exc}")]
    out = []
    for t in thresholds:
        actual = metrics.get(t.metric)
        if actual is None:
            out.append(
                problem("threshold", f"{want} needs {t}, but run {run_id} has no metric {t.metric}")
            )
        elif not t.holds(float(actual)):
            out.append(
                problem(
                    "threshold", f"{want} needs {t}, but run {run_id} has {t.metric} = {actual:g}"
                )
            )
    return out


def plan(desired: Desired, state: RegistryState) -> list[Action]:
    """Exactly the assignment tags that make git match ``desired``, in promotion order."""
    actions = []
    for name in sorted(desired.models):
        model = desired.models[name]
        counter = state.next_counter(name)
        for stage in _ordered(model):
            version = model.stages[stage]
            current = state.current(name, stage)
            if current is not None and current.version == version:
                continue
            found = state.version(name, version)
            if found is None or found.deregistered:
                raise RegistryLookupError(
                    f"cannot assign {stage} to {name}@{version}: the version is "
                    f"{'deregistered' if found else 'not registered'}"
                )
            message = (
                f"Assigning stage {stage} to artifact {name} version {version}\n\n"
                f"ledger: desired state from {desired.source}\n"
            )
            actions.append(
                Action(
                    name,
                    stage,
                    version,
                    found.commit,
                    assignment_tag(name, stage, counter),
                    message,
                    model.policy.require_signed,
                )
            )
            counter += 1
    return actions


def apply(repo: RepoLike, actions: list[Action], *, sign: bool | None = None) -> list[str]:
    """Create the tags of a plan, in order; return their names.

    Each tag is created on its own; if one fails, the ones before it stay and a new
    :func:`plan` continues from there. Signing follows ``sign`` (None: the user's
    ``tag.gpgSign``); a plan under ``require_signed`` refuses to run unsigned.
    """
    unsigned = [a.tag for a in actions if a.require_signed and not sign]
    if unsigned:
        raise SignatureError(
            f"policy.require_signed: {', '.join(unsigned)} must be signed; apply with signing on"
        )
    from ledger.registry.signing import create_tag  # `check` does without its imports

    created = []
    for action in actions:
        create_tag(repo, action.tag, action.commit, action.message, sign=sign)
        created.append(action.tag)
    return created
