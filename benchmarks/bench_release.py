"""Wall time of building the student release, one chapter-recording process or several.

    python benchmarks/bench_release.py [--jobs 1 2] [--chapter ch3 --chapter ch11]

Runs `dlcourse release OUT --jobs J` (from this checkout: it needs the references) once
per J into a fresh temporary folder and prints the wall time, its ratio to a bare
`python -c "import torch"` and the number of recorded outputs the command reports (the
same for every J: each chapter draws the same inputs whatever ran before it). Run it on
an otherwise idle machine; each recording process holds a grader and a worker.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wall(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return time.perf_counter() - started, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chapter", action="append", default=[], help="release these chapters only (default: all)")
    opts = parser.parse_args()
    base = min(_wall([sys.executable, "-c", "import torch"])[0] for _ in range(3))
    print(f"import torch: {base:.2f} s")
    chosen = [a for c in opts.chapter for a in ("--chapter", c)]
    for jobs in opts.jobs:
        with tempfile.TemporaryDirectory() as scratch:
            wall, out = _wall([sys.executable, "-m", "dlcourse_cli", "release", str(Path(scratch) / "out"), "--jobs", str(jobs), *chosen])
        recorded = re.search(r"(\d+)\s+recorded", " ".join(out.split()))
        print(f"--jobs {jobs}: {wall:6.1f} s  ({wall / base:.0f}x import torch)  {recorded.group(1) if recorded else '?'} recorded outputs")


if __name__ == "__main__":
    main()
