"""Mutation testing (mutmut) over the modules that carry the product's guarantees.

    make mutation                                  # every module below
    make mutation MODULES="wechat_adapter/outbox.py knowledge/search.py"

Each module runs in its own copy of the tree under $VETBOT_DATA_DIR/mutation/<module>/, with only
the tests written for it, so a survivor means "no test of this module notices the change".
mutmut keeps its results there, so a second run only re-tests functions that changed. Prints the
score per module (killed / all mutants; a timeout counts as killed, "no tests" as survived),
writes every survivor's diff to $VETBOT_DATA_DIR/mutation/survivors.txt, and exits 1 when a module
scores below TARGET. An equivalent mutant (no test could tell it apart) is excluded with
`# pragma: no mutate` on its line and a comment saying why.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import toml

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.85
# Module -> the tests that check it (globs, relative to the repository).
MODULES: dict[str, list[str]] = {
    "wechat_adapter/protocol.py": ["tests/wechat/test_protocol.py"],
    "wechat_adapter/turns.py": ["tests/wechat/test_turns.py", "tests/wechat/test_channel.py"],
    "wechat_adapter/dedupe.py": ["tests/wechat/test_dedupe.py"],
    "wechat_adapter/store.py": ["tests/wechat/test_store.py", "tests/wechat/test_dedupe.py", "tests/wechat/test_token_cache*.py"],
    "wechat_adapter/outbox.py": ["tests/wechat/test_outbox*.py"],
    "wechat_adapter/token_cache.py": ["tests/wechat/test_token_cache*.py"],
    "knowledge/search.py": ["tests/test_search*.py", "tests/test_ranking.py", "tests/test_knowledge.py"],
    "knowledge/answer.py": ["tests/test_answer.py"],
}
KILLED = {"killed", "timeout", "segfault"}


def project_files() -> list[str]:
    """Tracked files plus new ones git does not ignore: what a commit of the work tree would hold."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (ROOT / name).is_file()]


def prepare_tree(module: str, work: Path) -> list[str]:
    """Copy the project into `work` (keeping mutmut's earlier results) and point mutmut at `module`."""
    for name in project_files():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    tests = sorted(str(path.relative_to(ROOT)) for pattern in MODULES[module] for path in ROOT.glob(pattern))
    if not tests:
        raise SystemExit(f"{module}: none of its tests exist ({MODULES[module]})")
    config = toml.load(work / "pyproject.toml")
    settings = config["tool"]["mutmut"]
    settings["only_mutate"] = [module]
    settings["pytest_add_cli_args_test_selection"] = tests
    (work / "pyproject.toml").write_text(toml.dumps(config), encoding="utf-8")
    return tests


def run_mutmut(work: Path, timeout: float, children: int) -> bool:
    mutmut = Path(sys.executable).parent / "mutmut"
    try:
        subprocess.run(
            [str(mutmut), "run", "--max-children", str(children)],
            cwd=work, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=False,
        )
        return True
    except subprocess.TimeoutExpired:
        return False


def results(work: Path, module: str) -> dict[str, str]:
    """{mutant name: status} for the module's mutants."""
    mutmut = Path(sys.executable).parent / "mutmut"
    listing = subprocess.run(
        [str(mutmut), "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=False
    ).stdout
    prefix = module[:-3].replace("/", ".") + ".x"
    statuses = {}
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name.startswith(prefix):
            statuses[name] = status
    return statuses


def survivor_diffs(work: Path, names: list[str]) -> str:
    mutmut = Path(sys.executable).parent / "mutmut"
    shown = [
        subprocess.run([str(mutmut), "show", name], cwd=work, capture_output=True, text=True, check=False).stdout
        for name in names
    ]
    return "\n".join(shown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help="modules to mutate (default: all)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("MUTATION_TIMEOUT", 1200)),
                        help="seconds one module may take (default 1200)")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    unknown = [module for module in args.modules if module not in MODULES]
    if unknown:
        parser.error(f"not a module under mutation testing: {unknown}; choose from {list(MODULES)}")

    base = Path(os.environ.get("VETBOT_DATA_DIR") or ROOT / "var").resolve() / "mutation"
    os.environ["VETBOT_DATA_DIR"] = str(base.parent)  # the mutants' tests find the product data here
    # mutmut forks each mutant from a process that already ran torch; a forked child of a
    # multi-threaded torch hangs until mutmut's timeout, which would then count as "killed".
    os.environ.setdefault("VETBOT_TORCH_THREADS", "1")
    report = []
    failed = False
    print(f"{'module':32} {'killed':>6} {'(timeout)':>9} {'survived':>8} {'no tests':>8} {'total':>6} {'score':>6} {'time':>6}")
    for module in args.modules:
        work = base / re.sub(r"\W", "_", module[:-3])
        work.mkdir(parents=True, exist_ok=True)
        prepare_tree(module, work)
        started = time.monotonic()
        finished = run_mutmut(work, args.timeout, args.children)
        statuses = results(work, module)
        counts = Counter(statuses.values())
        killed = sum(counts[status] for status in KILLED)
        score = killed / len(statuses) if statuses else 0.0
        survivors = sorted(name for name, status in statuses.items() if status not in KILLED)
        note = "" if finished else "  (stopped at the time limit: unfinished mutants count as survivors)"
        print(f"{module:32} {killed:6} {counts['timeout']:9} {counts['survived']:8} {counts['no tests']:8} {len(statuses):6}"
              f" {score:6.1%} {time.monotonic() - started:5.0f}s{note}", flush=True)
        failed |= score < TARGET or not finished
        if survivors:
            report.append(f"## {module}: {len(survivors)} survivors\n\n{survivor_diffs(work, survivors)}")
    (base / "survivors.txt").write_text("\n\n".join(report), encoding="utf-8")
    print(f"target {TARGET:.0%} per module; survivors' diffs: {base / 'survivors.txt'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
