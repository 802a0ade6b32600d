"""Re-check latency with a warm worker (issue 17: `watch` within 1 s of a save, median).

    python benchmarks/bench_recheck.py [--exercise ch4.linear_backward] [--repeat 7]

Calls the notebook API `dlcourse_cli.check(...)` repeatedly in one process, as `watch`
and a notebook do: the first run starts the worker cold; every later run finds a worker
already started (`grader.runner.keep_workers_warm`). Between runs it waits two seconds,
as a student editing would, so the spare worker is ready. `watch` adds its polling
interval (0.5 s) on top of the figure printed here.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exercise", default="ch4.linear_backward")
    parser.add_argument("--repeat", type=int, default=7)
    opts = parser.parse_args()
    import dlcourse_cli

    times = []
    for i in range(opts.repeat + 1):
        if i:
            time.sleep(2)
        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            dlcourse_cli.check(opts.exercise, path=ROOT / "solutions")
        times.append(time.perf_counter() - start)
    print(f"{opts.exercise}: first (cold) {times[0]:.2f} s; re-checks median {statistics.median(times[1:]):.2f} s "
          f"(min {min(times[1:]):.2f}, max {max(times[1:]):.2f}, n={opts.repeat})")


if __name__ == "__main__":
    main()
