"""`grade all` inside a memory-limited cgroup, as in Gradescope's default container (768 MB).

    sudo python benchmarks/bench_container.py [--limit-mb 768] [--cold] [--memory-budget 0 700]

Makes a memory cgroup below this process's own (cgroup v2, else v1; root only), sets its
limit, and runs `dlcourse grade all --submission solutions` inside it once per budget
(`--memory-budget`, `grader.memory`; 0: none, the default).
With `--cold`, the page cache is dropped first, so torch's libraries are charged to the
cgroup as in a fresh container. Prints, per run: wall seconds, the cgroup's peak usage
(what the kernel charges: anonymous memory and page cache), how often the limit was hit
(the kernel then reclaims page cache), OOM kills, and the score. The tree's summed RSS is
what `bench_grade.py` measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CGROUP = Path("/sys/fs/cgroup")


def make_cgroup(limit: int, name: str) -> tuple[Path, dict[str, str]]:
    """A new cgroup with `limit` bytes of memory: its folder and its files by role."""
    own = {parts[1]: parts[2] for parts in (line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines())}
    if (CGROUP / "cgroup.controllers").is_file():
        folder = CGROUP / own.get("", "/").lstrip("/") / f"dlcourse-bench-{os.getpid()}-{name}"
        files = {"limit": "memory.max", "peak": "memory.peak", "hits": "memory.events", "oom": "memory.events"}
    else:
        mine = next(path for controllers, path in own.items() if "memory" in controllers.split(","))
        folder = CGROUP / "memory" / mine.lstrip("/") / f"dlcourse-bench-{os.getpid()}-{name}"
        files = {"limit": "memory.limit_in_bytes", "peak": "memory.max_usage_in_bytes", "hits": "memory.failcnt", "oom": "memory.oom_control"}
    folder.mkdir()
    (folder / files["limit"]).write_text(str(limit))
    return folder, files


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return int(text.strip()) if text.strip().isdigit() else 0


def run_inside(folder: Path, files: dict[str, str], budget: str, cold: bool) -> str:
    if cold:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "dlcourse_cli", "grade", "all", "--submission", str(ROOT / "solutions"), "--quiet", "--json", str(report),
               "--memory-budget", budget]
        env = dict(os.environ, DLCOURSE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env.pop("DLCOURSE_MEMORY_BUDGET", None)
        cgroup_procs = str(folder / "cgroup.procs")
        started = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: Path(cgroup_procs).write_text(str(os.getpid()))).returncode
        wall = time.perf_counter() - started
        score = "no report"
        if report.is_file():
            data = json.loads(report.read_text())
            score = f"{data['score']:g}/{data['max_score']:g}"
    peak = _field((folder / files["peak"]).read_text(), "") / (1 << 20)
    hits = _field((folder / files["hits"]).read_text(), "max") if files["hits"] == "memory.events" else _field((folder / files["hits"]).read_text(), "")
    ooms = _field((folder / files["oom"]).read_text(), "oom_kill")
    return f"| {budget} | {wall:.1f} s | {peak:.0f} MiB | {hits} | {ooms} | {score} | exit {code} |"


def _remove(folder: Path) -> None:
    """Remove the cgroup once its last process is gone (an OOM-killed one takes a moment)."""
    for _ in range(40):
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.25)
    print(f"(the cgroup {folder} is still busy: remove it with rmdir)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit-mb", type=float, default=768, help="the cgroup's limit in MB (10^6 bytes), as Gradescope counts")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each run")
    parser.add_argument("--memory-budget", nargs="*", default=["0", "700"])
    opts = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("making a cgroup needs root")
    print(f"a fresh cgroup per run, limit {opts.limit_mb:g} MB{', cold page cache' if opts.cold else ''}\n")
    print("| budget | wall | peak charged | limit hit | OOM kills | score | exit |")
    print("|---|---|---|---|---|---|---|")
    for i, budget in enumerate(opts.memory_budget):
        folder, files = make_cgroup(int(opts.limit_mb * 1e6), str(i))
        try:
            print(run_inside(folder, files, budget, opts.cold), flush=True)
        finally:
            _remove(folder)


if __name__ == "__main__":
    main()
