"""Issue 5 benchmark: reading the model registry, side by side with GTO, in one repository
with 2,000 registry tags among 5,000 unrelated ones, with loose and with packed tag refs.

    python bench/bench_registry.py              # 100 models x 20 tags, 5,000 other tags
    python bench/bench_registry.py --quick      # fewer repeats

Needs `gto` next to the interpreter (pip install -e '.[bench]'). Measures whole processes:
`ledger model show NAME`, `ledger registry check` (ledger.toml naming two stages of every
model, with a metric threshold read from each version's run), `gto show NAME` and `gto show`.
The ledger measured is this checkout's (PYTHONPATH), whatever is installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ENV, PY, fresh_repo, median, report, timed_process, worker

ROOT = Path(__file__).resolve().parent.parent
ENV["PYTHONPATH"] = str(ROOT)
GTO = shutil.which("gto", path=str(Path(PY).parent)) or shutil.which("gto")
VERSIONS = 10  # per model; each version is promoted to staging, then production: 20 tags
START = 1_700_000_000

MAKE_RUNS = """
import json, sys, ledger
lg = ledger.Ledger(".")
ids = [lg.log_run("bench", f"model-{i}", params={"i": i},
                  metrics=[("acc", 0.8 + i / 10000, 0)]) for i in range(int(sys.argv[1]))]
print(json.dumps(ids))
"""


def fast_import_stream(models: int, others: int, run_ids: list[str], base: str) -> bytes:
    """Commits for the versions, the registry tags and unrelated tags, for git fast-import."""
    out: list[str] = []
    clock = START

    def data(text: str) -> None:
        raw = text.encode()
        out.append(f"data {len(raw)}\n{text}\n")

    for v in range(1, VERSIONS + 1):  # version v of every model is at commit :v
        out.append(f"commit refs/bench/packages\nmark :{v}\n"
                   f"committer bench <bench@example.com> {START} +0000\n")
        data(f"package {v}\n")
        out.append("M 644 inline model.txt\n")
        data(f"weights {v}\n")

    def tag(name: str, mark: str, message: str) -> None:
        nonlocal clock
        clock += 1  # GTO orders events by tag date; one second apart keeps it equal to #N
        out.append(f"tag {name}\nfrom {mark}\ntagger bench <bench@example.com> {clock} +0000\n")
        data(message)

    for m in range(models):
        name = f"model-{m:03d}"
        for v in range(1, VERSIONS + 1):
            tag(f"{name}@v0.0.{v}", f":{v}",
                f"Registering model {name} version v0.0.{v}\n\nrun: {run_ids[m]}\n"
                f"metrics.acc: {0.8 + m / 10000}\n")
        counter = 0
        for v in range(1, VERSIONS + 1, 2):
            for stage in ("staging", "production"):
                counter += 1
                tag(f"{name}#{stage}#{counter}", f":{v}",
                    f"Assigning stage {stage} to artifact {name} version v0.0.{v}\n")
    for i in range(others):
        if i % 2:
            tag(f"release-{i}", base, f"release {i}\n")
        else:
            out.append(f"reset refs/tags/build-{i}\nfrom {base}\n\n")
    return "".join(out).encode()


def desired_toml(models: int) -> str:
    last = f"v0.0.{VERSIONS - 1}"
    lines = ['[policy]\nstages = ["staging", "production"]\n',
             '[policy.thresholds]\nproduction = ["metrics.acc >= 0.5"]\n']
    for m in range(models):
        lines.append(f'[registry.model-{m:03d}]\nstaging = "{last}"\nproduction = "{last}"\n')
    return "\n".join(lines)


def build(models: int, others: int) -> Path:
    repo = fresh_repo("bench-registry-")
    run_ids = worker(MAKE_RUNS, repo, str(models))
    base = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stream = fast_import_stream(models, others, run_ids, base)
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True,
                   env=ENV)
    (repo / "ledger.toml").write_text(desired_toml(models))
    return repo


def count_tags(repo: Path) -> tuple[int, int]:
    names = subprocess.run(["git", "-C", str(repo), "tag", "-l"], capture_output=True,
                           text=True, check=True).stdout.split()
    return sum(("@" in n or "#" in n) for n in names), sum(not ("@" in n or "#" in n)
                                                           for n in names)


def loose_tag_refs(repo: Path) -> int:
    return sum(1 for p in (repo / ".git" / "refs" / "tags").rglob("*") if p.is_file())


def measure(repo: Path, label: str, repeat: int, gto_repeat: int) -> list[tuple[str, ...]]:
    ledger = [PY, "-m", "ledger.cli"]
    show = [*ledger, "model", "show", "model-042", "--format", "json"]
    check = [*ledger, "registry", "check"]
    timed_process(show, repo, 2)
    timed_process(check, repo, 2)
    assert GTO is not None
    ours_show = timed_process(show, repo, repeat)
    ours_check = timed_process(check, repo, repeat)
    gto_one = timed_process([GTO, "show", "model-042", "--json"], repo, gto_repeat)
    gto_all = timed_process([GTO, "show", "--json"], repo, gto_repeat)

    def ms(times: list[float]) -> str:  # the median, and the best run on a busy machine
        return f"{median(times) * 1000:.0f} ms ({min(times) * 1000:.0f})"

    def ratio(theirs: list[float], ours: list[float]) -> str:
        return f"{median(theirs) / median(ours):.0f}x"

    return [
        (f"[{label}] ledger model show NAME | gto show NAME", ms(ours_show), ms(gto_one),
         ratio(gto_one, ours_show)),
        (f"[{label}] ledger registry check | gto show NAME", ms(ours_check), ms(gto_one),
         ratio(gto_one, ours_check)),
        (f"[{label}] ledger registry check | gto show", ms(ours_check), ms(gto_all),
         ratio(gto_all, ours_check)),
    ]


def same_answer(repo: Path) -> None:
    """Both tools read the same registry: versions and stages of one model."""
    assert GTO is not None
    ours = json.loads(subprocess.run([PY, "-m", "ledger.cli", "model", "show", "model-042",
                                      "--format", "json"], cwd=repo, env=ENV,
                                     capture_output=True, text=True, check=True).stdout)
    theirs = json.loads(subprocess.run([GTO, "show", "model-042", "--json"], cwd=repo, env=ENV,
                                       capture_output=True, text=True, check=True).stdout)
    assert sorted(v["version"] for v in ours) == sorted(v["version"] for v in theirs), theirs
    top = f"v0.0.{VERSIONS - 1}"
    assert [v["stages"] for v in ours if v["version"] == top] == [["production", "staging"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--others", type=int, default=5000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if GTO is None:
        sys.exit("gto is not installed next to this interpreter (pip install gto)")
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "ledger")], env=ENV,
                   stdout=subprocess.DEVNULL, check=False)
    repeat, gto_repeat = (5, 1) if args.quick else (15, 3)
    repo = build(args.models, args.others)
    ours_tags, other_tags = count_tags(repo)
    print(f"repository: {ours_tags} registry tags, {other_tags} other tags "
          f"({loose_tag_refs(repo)} loose tag refs), {args.models} runs")
    same_answer(repo)
    rows = [("whole process: median (best)", "ledger", "gto", "ratio of medians")]
    rows += measure(repo, "loose refs", repeat, gto_repeat)
    subprocess.run(["git", "-C", str(repo), "pack-refs", "--all"], check=True, env=ENV)
    assert loose_tag_refs(repo) == 0
    rows += measure(repo, "packed refs", repeat, gto_repeat)
    report(rows)
    shutil.rmtree(repo.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
