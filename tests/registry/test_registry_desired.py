"""ledger.toml: schema, check, plan and apply against real repositories."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ledger.errors import (
    DesiredStateError,
    RegistryLookupError,
    RunNotFoundError,
    SignatureError,
)
from ledger.registry.desired import apply, check, parse_desired, plan, read_desired
from ledger.registry.signing import verify_tags
from ledger.registry.state import load_state
from tests.registry.tagging import allowed_signers, git_ok, register, use_ssh_signing

METRICS = {"run-a": {"acc": 0.95}, "run-b": {"acc": 0.85}, "run-c": {"acc": 0.97}}


def metrics_of(run_id: str) -> dict[str, float]:
    try:
        return METRICS[run_id]
    except KeyError:
        raise RunNotFoundError(f"no run {run_id}") from None


@pytest.fixture
def iris(repo: Path) -> Path:
    register(repo, "iris", "v1.2.0", run="run-a")
    register(repo, "iris", "v1.3.0", run="run-b")
    register(repo, "iris", "v1.4.0", run="run-c")
    return repo


def write(repo: Path, text: str) -> Path:
    path = repo / "ledger.toml"
    path.write_text(textwrap.dedent(text))
    return path


POLICY = """
    [policy]
    stages = ["staging", "production"]
    [policy.thresholds]
    production = ["metrics.acc >= 0.9"]
"""


def messages(repo: Path, toml: str) -> list[str]:
    return [str(p) for p in check(write(repo, toml), load_state(repo), metrics_of)]


def test_check_passes_and_plan_apply_is_idempotent(iris: Path) -> None:
    path = write(iris, POLICY + '[registry.iris]\nstaging = "v1.2.0"\n')
    desired = read_desired(path)
    assert check(desired, load_state(iris), metrics_of) == []
    actions = plan(desired, load_state(iris))
    assert [a.tag for a in actions] == ["iris#staging#1"]
    assert apply(iris, actions) == ["iris#staging#1"]
    assert plan(desired, load_state(iris)) == []
    assert apply(iris, plan(desired, load_state(iris))) == []

    path = write(iris, POLICY + '[registry.iris]\nstaging = "v1.4.0"\nproduction = "v1.2.0"\n')
    desired = read_desired(path)
    assert check(desired, load_state(iris), metrics_of) == []
    actions = plan(desired, load_state(iris))
    assert [(a.tag, str(a.version)) for a in actions] == [
        ("iris#staging#2", "v1.4.0"),
        ("iris#production#3", "v1.2.0"),
    ]
    tags_before = set(git_ok(iris, "tag").split())
    apply(iris, actions)
    assert set(git_ok(iris, "tag").split()) - tags_before == {"iris#staging#2", "iris#production#3"}
    state = load_state(iris)
    assert str(state.resolve("iris#production").version.version) == "v1.2.0"  # type: ignore[union-attr]
    assert str(state.resolve("iris#staging").version.version) == "v1.4.0"  # type: ignore[union-attr]
    assert plan(desired, state) == []
    assert apply(iris, plan(desired, state)) == []
    assert set(git_ok(iris, "tag").split()) - tags_before == {"iris#staging#2", "iris#production#3"}


def test_missing_and_deregistered_versions(iris: Path) -> None:
    git_ok(iris, "tag", "-a", "-m", "deregister", "iris@v1.3.0!", "iris@v1.3.0^{commit}")
    assert messages(iris, '[registry.iris]\nproduction = "v9.9.9"\nstaging = "v1.3.0"\n') == [
        "iris: production = v9.9.9, but iris@v9.9.9 is not registered",
        "iris: staging = v1.3.0, but iris@v1.3.0 was deregistered",
    ]
    with pytest.raises(RegistryLookupError, match="not registered"):
        plan(read_desired(iris / "ledger.toml"), load_state(iris))


def test_skipped_stage(iris: Path) -> None:
    assert messages(iris, POLICY + '[registry.iris]\nproduction = "v1.2.0"\n') == [
        (
            "iris: production = v1.2.0, but v1.2.0 was never in staging "
            "(policy.stages: staging comes before production)"
        )
    ]


def test_unknown_stage(iris: Path) -> None:
    assert messages(iris, POLICY + '[registry.iris]\nqa = "v1.2.0"\n') == [
        "iris: qa = v1.2.0: stage qa is not in policy.stages (staging, production)"
    ]


def test_missed_threshold(iris: Path) -> None:
    apply(iris, plan(read_desired(write(iris, '[registry.iris]\nstaging = "v1.3.0"\n')),
                     load_state(iris)))  # fmt: skip
    assert messages(iris, POLICY + '[registry.iris]\nproduction = "v1.3.0"\n') == [
        "iris: production = v1.3.0 needs metrics.acc >= 0.9, but run run-b has acc = 0.85"
    ]


def test_per_model_thresholds_and_missing_metrics(iris: Path) -> None:
    toml = POLICY + textwrap.dedent("""
        [registry.iris]
        staging = "v1.2.0"
        [registry.iris.policy.thresholds]
        staging = ["metrics.acc > 0.99", "metrics.f1 >= 0.5"]
    """)
    assert messages(iris, toml) == [
        "iris: staging = v1.2.0 needs metrics.acc > 0.99, but run run-a has acc = 0.95",
        "iris: staging = v1.2.0 needs metrics.f1 >= 0.5, but run run-a has no metric f1",
    ]


def test_unreadable_metrics_and_no_run(repo: Path) -> None:
    register(repo, "iris", "v1.0.0", run="gone")
    register(repo, "iris", "v1.1.0")
    toml = '[policy.thresholds]\nstaging = ["metrics.acc >= 0.5"]\n'
    assert messages(repo, toml + '[registry.iris]\nstaging = "v1.0.0"\n') == [
        "iris: staging = v1.0.0: cannot read the metrics of run gone: no run gone"
    ]
    assert messages(repo, toml + '[registry.iris]\nstaging = "v1.1.0"\n') == [
        (
            "iris: staging = v1.1.0: the version's tag names no run ('run: <id>' line), "
            "so its metrics cannot be checked"
        )
    ]


def test_schema_violations_are_problems(iris: Path) -> None:
    found = messages(
        iris,
        """
        [policy]
        require_signed = "yes"
        [registry.Iris]
        production = "1.2"
        [registry.iris]
        production = "v1.2"
        """,
    )
    assert found == [
        "ledger.toml: policy.require_signed: 'yes' is not of type 'boolean'",
        (
            "ledger.toml: registry: 'Iris' is not a model or stage name: lowercase letters, "
            "digits, '-', '_' and '/', starting and ending with a letter or digit"
        ),
        "ledger.toml: registry.Iris.production: '1.2' is not a version such as \"v1.2.0\"",
        "ledger.toml: registry.iris.production: 'v1.2' is not a version such as \"v1.2.0\"",
    ]
    assert all("\n" not in line for line in found)
    assert messages(iris, "[registry.iris\n")[0].startswith("ledger.toml: invalid TOML")
    with pytest.raises(DesiredStateError) as err:
        parse_desired({"registry": {"iris": {"policy": "v1.0.0"}}})
    assert "registry.iris.policy" in str(err.value)


def test_require_signed(iris: Path, ssh_keys: dict[str, Path], tmp_path: Path) -> None:
    signed = '[policy]\nrequire_signed = true\n[registry.iris]\nstaging = "v1.2.0"\n'
    # an assignment in effect through an unsigned tag is a problem
    apply(iris, plan(read_desired(write(iris, '[registry.iris]\nstaging = "v1.2.0"\n')),
                     load_state(iris)))  # fmt: skip
    assert messages(iris, signed) == [
        (
            "iris: staging = v1.2.0 is in effect through the unsigned tag iris#staging#1 "
            "(policy.require_signed)"
        )
    ]
    # apply refuses to create unsigned tags under the policy, and signs when asked
    desired = read_desired(write(iris, signed.replace("v1.2.0", "v1.4.0")))
    actions = plan(desired, load_state(iris))
    with pytest.raises(SignatureError, match="iris#staging#2 must be signed"):
        apply(iris, actions)
    assert "iris#staging#2" not in git_ok(iris, "tag").split()
    use_ssh_signing(iris, ssh_keys["alice"])
    assert apply(iris, actions, sign=True) == ["iris#staging#2"]
    assert check(desired, load_state(iris), metrics_of) == []
    allowed = allowed_signers(tmp_path / "allowed", ssh_keys["alice"])
    assert [r.ok for r in verify_tags(iris, ["iris#staging#2"], allowed)] == [True]


def test_deprecated_model_is_a_problem(iris: Path) -> None:
    git_ok(iris, "tag", "-a", "-m", "deprecate", "iris@deprecated", "iris@v1.4.0^{commit}")
    assert messages(iris, '[registry.iris]\nstaging = "v1.2.0"\n') == [
        "iris: staging = v1.2.0, but model iris is deprecated"
    ]
