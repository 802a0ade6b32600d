"""Benchmarks of the grading engine, with figures reported in issue notes.

    python benchmarks/bench_check.py [--repeat 3] [--chapters ch4 ch1]

1. `dlcourse check chN --path solutions` for each chapter (its outcome/"train"
   exercises aside, which have their own time limits), against a bare
   `python -c "import torch"` on the same machine: the target is at most 4x.
2. The round trip of one call to the worker with small tensors: the target is under 1 ms.
3. With `--isolation bwrap python ...`, each chapter's check under each isolation mode
   (DLCOURSE_ISOLATION), to measure what the operating-system boundary costs.
4. With `--release FOLDER` (a `dlcourse release` output), the same checks run by the
   student release in that folder (`python -m dlcourse_cli` there, its recorded outputs
   in place of the references), beside the checkout's.

Each figure is the median of `--repeat` runs. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN = {"ch3.train_linear_svm", "ch5.digits_train_predict", "ch10.diffusion_train_sample"}


def wall(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - start


def median_wall(cmd: list[str], repeat: int, env: dict | None = None, cwd: Path = ROOT) -> float:
    return statistics.median(wall(cmd, env, cwd) for _ in range(repeat))


def targets(chapter_id: str) -> list[str]:
    from grader.curriculum import chapter

    ids = [e.id for e in chapter(chapter_id).exercises]
    kept = [i for i in ids if i not in TRAIN]
    return [chapter_id] if kept == ids else kept


def round_trip(calls: int = 2000) -> float:
    import torch

    from grader.curriculum import find
    from grader.student import StudentProxy, Worker

    worker = Worker(ROOT / "solutions")
    proxy = StudentProxy(worker, find("ch4.linear_forward"), {})
    x, W, b = torch.randn(4, 8), torch.randn(8, 3), torch.randn(3)
    try:
        proxy.linear_forward(x, W, b)  # start and warm up
        start = time.perf_counter()
        for _ in range(calls):
            proxy.linear_forward(x, W, b)
        return (time.perf_counter() - start) / calls * 1000
    finally:
        worker.stop()


def main() -> None:
    from grader.curriculum import chapters
    from grader.runner import CHECKS

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chapters", nargs="*")
    parser.add_argument("--isolation", nargs="*", default=[], help="isolation modes to compare (bwrap user python)")
    parser.add_argument("--release", type=Path, help="a student release's folder: time its checks too")
    opts = parser.parse_args()
    if opts.release is not None and not (opts.release / "grader" / "recorded").is_dir():
        parser.error(f"{opts.release} is not a student release (no grader/recorded)")
    dlcourse = str(Path(sys.executable).with_name("dlcourse"))
    base = median_wall([sys.executable, "-c", "import torch"], opts.repeat)
    print(f"python -c 'import torch': {base:.2f} s (median of {opts.repeat})\n")
    release = " release seconds | x import torch |" if opts.release else ""
    print("| chapter | checked | seconds | x import torch |" + release)
    print("|---|---|---|---|" + ("---|---|" if opts.release else ""))
    for c in chapters():
        if opts.chapters and c.id not in opts.chapters:
            continue
        if not (CHECKS / f"{c.modules[0]}.py").is_file():
            continue
        picked = targets(c.id)
        seconds = median_wall([dlcourse, "check", *picked, "--path", "solutions", "--json"], opts.repeat)
        label = c.id if picked == [c.id] else f"{c.id} (train exercise aside)"
        row = f"| {c.id} | {label} | {seconds:.2f} | {seconds / base:.1f}x |"
        if opts.release:
            cmd = [sys.executable, "-m", "dlcourse_cli", "check", *picked, "--path", str(ROOT / "solutions"), "--json"]
            released = median_wall(cmd, opts.repeat, cwd=opts.release.resolve())
            row += f" {released:.2f} | {released / base:.1f}x |"
        print(row)
    if opts.isolation:
        import os

        print("\n| chapter | " + " | ".join(opts.isolation) + " |")
        print("|---|" + "---|" * len(opts.isolation))
        for c in chapters():
            if opts.chapters and c.id not in opts.chapters:
                continue
            cmd = [dlcourse, "check", *targets(c.id), "--path", "solutions", "--json"]
            cells = [median_wall(cmd, opts.repeat, dict(os.environ, DLCOURSE_ISOLATION=m)) for m in opts.isolation]
            print(f"| {c.id} | " + " | ".join(f"{x:.2f} s" for x in cells) + " |")
    print(f"\nworker round trip, small tensors: {round_trip():.3f} ms per call")


if __name__ == "__main__":
    main()
