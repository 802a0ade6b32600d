"""Wall time of the project's own test suite, one test directory at a time.

    python benchmarks/bench_suite.py                      # every directory of tests/
    python benchmarks/bench_suite.py tests/grader tests/deployed -- -k mutant
    python benchmarks/bench_suite.py --jobs 2             # with pytest-xdist, -n 2

Runs `python -m pytest -q` once per directory (a file or a node id works too), with
OMP_NUM_THREADS=1, and prints a table: seconds of wall time, CPU seconds of the pytest
process and the processes it waited for, the outcome line, and the machine's load
average before and after. Issue 17's target is the whole suite in at most 5 minutes on a
2-core machine: the total is the sum of the rows (one run of the whole suite can be
timed with `--whole`). Numbers are only comparable on an otherwise idle machine; the
load average says how idle it was. CPU seconds undercount what a grader's worker spent
under bubblewrap (killed, not reaped through us), so compare walls on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parts() -> list[str]:
    """Every test directory, in the order pytest would run them."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py")))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_part(target: str, extra: list[str], jobs: int) -> dict:
    """One pytest run: wall and CPU seconds, exit code, pytest's summary line."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target, *extra]
    if jobs:
        cmd += ["-n", str(jobs)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [line for line in proc.stdout.splitlines() if re.search(r"\b(passed|failed|error|skipped|no tests ran)\b", line)]
    return {
        "target": target,
        "wall_s": round(wall, 1),
        "cpu_s": round(_children_cpu() - cpu, 1),
        "exit": proc.returncode,
        "summary": lines[-1].strip("= ") if lines else (proc.stderr.strip().splitlines() or [""])[-1],
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="test directories, files or node ids (default: every directory of tests/)")
    parser.add_argument("--jobs", type=int, default=0, help="pytest-xdist processes (-n); 0: none")
    parser.add_argument("--whole", action="store_true", help="also time one run of the whole suite")
    parser.add_argument("--json", type=Path, help="write the rows to this file as JSON")
    opts = parser.parse_args(argv)
    targets = opts.targets or parts()
    if opts.whole:
        targets = [*targets, "tests"]
    rows = []
    print(f"{'target':<36} {'wall s':>8} {'cpu s':>8} {'load':>11}  outcome", flush=True)
    for target in targets:
        row = time_part(target, extra, opts.jobs)
        rows.append(row)
        load = f"{row['load_before']:.1f}->{row['load_after']:.1f}"
        print(f"{target:<36} {row['wall_s']:>8.1f} {row['cpu_s']:>8.1f} {load:>11}  {row['summary']}", flush=True)
    parts_only = [r for r in rows if r["target"] != "tests"]
    print(f"{'sum of the rows above':<36} {sum(r['wall_s'] for r in parts_only):>8.1f} {sum(r['cpu_s'] for r in parts_only):>8.1f}")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["exit"] in (0, 5) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
