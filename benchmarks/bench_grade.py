"""Wall time and peak memory of grading one submission, the whole process tree counted.

    python benchmarks/bench_grade.py [--targets all] [--repeat 1] [--isolation auto] [--memory-budget 0 700]
                                     [--submission solutions]

With `--batch N`, also grades N copies of the references with `dlcourse grade-batch` at
`--jobs 1` and at `--jobs 2` and prints the throughput (submissions per minute) of each:
issue 17 asks it to grow near-linearly up to the cores.

Runs `dlcourse grade TARGETS --submission solutions --quiet` (or `--submission PATH`: a
wrong submission also times Hypothesis' shrinking of failing examples) with one torch thread
(`DLCOURSE_THREADS=1`, as `grade-batch` does) and samples, every 50 ms, the resident
memory of the grader and every process below it (the worker, bubblewrap): the peak of
that sum is what issue 17 measures (Gradescope's default container has 768 MB). The peak
of the summed PSS is printed beside it: it counts the pages the processes share (torch's
libraries) once, as a container's memory limit does. Targets of
issue 17: `grade all` at most 35 s and 700 MiB. Also prints `python -c "import torch"`
for the ratio. Run it on an otherwise idle machine. `--memory-budget 0 700` compares no
budget with a 700 MiB one (a fresh worker per chapter once the tree nears it, `grader.memory`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree(pid: int) -> list[int]:
    from grader.memory import descendants

    return [pid, *descendants(pid)]


def _rss_mib(pid: int) -> float:
    from grader.memory import rss_mib

    return rss_mib(pid)


def _field_kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    """Proportional set size: a page shared by n processes (torch's libraries, mapped by
    the grader and the worker alike) counts 1/n in each, so the tree's sum counts it once,
    as a container's memory limit does."""
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss:")


def measure(cmd: list[str], env: dict) -> tuple[float, float, int, float]:
    """(seconds, peak MiB of the process tree's summed RSS, exit code, peak MiB of its summed PSS)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = peak_pss = 0
    while proc.poll() is None:
        tree = _tree(proc.pid)
        peak = max(peak, sum(_rss_mib(p) for p in tree))
        peak_pss = max(peak_pss, sum(_pss_kib(p) for p in tree))
        time.sleep(0.05)
    return time.perf_counter() - start, peak, proc.returncode, peak_pss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", nargs="*", default=["all"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--submission", default="solutions", help="the folder graded (default: the references; a wrong "
                        "submission times the shrinking of public checks' failing examples too)")
    parser.add_argument("--batch", type=int, default=0, help="also time grade-batch of this many submissions at --jobs 1 and 2")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--memory-budget", nargs="*", default=["0"], help="MiB budgets to compare (grader.memory; 0: none)")
    opts = parser.parse_args()
    env = dict(os.environ, DLCOURSE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    base = statistics.median(measure([sys.executable, "-c", "import torch"], env)[0] for _ in range(3))
    print(f"python -c 'import torch': {base:.2f} s")
    for budget in opts.memory_budget:
        cmd = [sys.executable, "-m", "dlcourse_cli", "grade", *opts.targets, "--submission", opts.submission, "--quiet",
               "--isolation", opts.isolation, "--memory-budget", budget]
        runs = [measure(cmd, env) for _ in range(opts.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        peak, peak_pss = max(r[1] for r in runs), max(r[3] for r in runs)
        print(f"grade {' '.join(opts.targets)} of {opts.submission} (isolation {opts.isolation}, memory budget {budget} MiB): {seconds:.1f} s wall "
              f"({seconds / base:.1f}x import torch), peak tree RSS {peak:.0f} MiB (PSS {peak_pss:.0f} MiB), exit {runs[0][2]}")
    if opts.batch:
        batch(opts, env)


def batch(opts, env: dict) -> None:
    """Throughput of `grade-batch` over `opts.batch` copies of the references."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        for i in range(opts.batch):
            shutil.copytree(ROOT / "solutions", folder / f"student{i:03d}", ignore=shutil.ignore_patterns("__pycache__", "mistakes"))
        first = None
        for jobs in opts.jobs:
            out = Path(tmp) / f"gradebook-{jobs}.csv"
            cmd = [sys.executable, "-m", "dlcourse_cli", "grade-batch", str(folder), "--out", str(out),
                   "--jobs", str(jobs), *[a for t in opts.targets for a in ("--target", t)]]
            seconds, peak, code, peak_pss = measure(cmd, env)
            rate = opts.batch / seconds * 60
            first = first or rate
            print(f"grade-batch {opts.batch} submissions, --jobs {jobs}: {seconds:.1f} s, {rate:.2f} per minute "
                  f"({rate / first:.2f}x --jobs {opts.jobs[0]}), peak tree RSS {peak:.0f} MiB (PSS {peak_pss:.0f} MiB), exit {code}")


if __name__ == "__main__":
    main()
