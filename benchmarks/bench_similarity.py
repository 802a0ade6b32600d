"""Benchmark of `dlcourse similarity`: a class of synthetic submissions, timed.

    python benchmarks/bench_similarity.py [--count 200] [--chapters all] [--jobs N]

Generates `--count` submissions in a temporary folder, each the reference modules
disguised as a copier would (`tests/notebooks/copies.py`: locals renamed, functions
reordered, unused statements and comments added), and times
`grader.similarity.compare` plus the HTML and CSV exports. Every pair is a copy, so
this is the worst case: each exercise's pairs are all flagged. Target: a class of 200
in minutes. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--chapters", nargs="+", default=["all"])
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    from grader import similarity
    from grader.curriculum import chapter, resolve_targets
    from grader.export import similarity_html
    from tests.notebooks.copies import make_submissions

    exercises = resolve_targets(args.chapters)
    modules = list(dict.fromkeys(m for e in exercises for m in chapter(e.chapter).modules))
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        started = time.perf_counter()
        make_submissions(Path(tmp) / "subs", args.count, modules)
        made = time.perf_counter() - started
        started = time.perf_counter()
        report = similarity.compare(Path(tmp) / "subs", exercises, jobs=args.jobs)
        compared = time.perf_counter() - started
        started = time.perf_counter()
        similarity_html.write(report, Path(tmp) / "report.html")
        similarity.write_csv(report, Path(tmp) / "pairs.csv")
        exported = time.perf_counter() - started
        size = (Path(tmp) / "report.html").stat().st_size
    print(f"{args.count} submissions, {len(report.exercises)} exercises, {report.compared} pairs compared, {report.flagged} flagged")
    print(f"generate {made:.1f} s   compare {compared:.1f} s   export {exported:.1f} s ({size / 1e6:.1f} MB HTML)")


if __name__ == "__main__":
    main()
