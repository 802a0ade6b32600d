"""Memory of the grading processes, and a budget for the grader and its worker together.

    budget = memory_budget(option)    # MiB: the option, else DLCOURSE_MEMORY_BUDGET, else None
    tree_rss_mib(pid)                 # a process and every process below it

`grade all` keeps one grader and one worker for the whole run, and the worker grows as
chapters train models (torch's kernels and buffers stay once touched). With a budget, the
grader replaces its worker with a fresh one at a chapter boundary when the tree (its own
RSS and the worker's, summed) is within `CHAPTER_GROWTH_MIB` of the budget and the worker
has grown `WORTH_A_RESTART_MIB` since it started (`grader.plugin`). There is none by
default: inside a memory-limited container the kernel reclaims page cache (torch's
libraries) before it kills, and `grade all` of the references ran to full marks in a 768 MB
and in a 512 MB cgroup with and without a budget (`benchmarks/bench_container.py`), at
2.5 s a replacement. Linux only (/proc); elsewhere no figure is known and no worker is
replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "DLCOURSE_MEMORY_BUDGET"
CHAPTER_GROWTH_MIB = 64
"""What one chapter adds to the tree at most, measured on `grade all` of the references
(ch1's scikit-learn import in the grader: +60 MiB; ch5's trainings in the worker: +55)."""
WORTH_A_RESTART_MIB = 32
"""What a worker must have grown since it was ready before it is replaced: a restart costs
about 2.5 s (torch's import, the first calls' set-up), and a fresh worker grows some 25 MiB
in its first chapter anyway."""


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux /proc; elsewhere none is found)."""
    parents: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of one process in MiB (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def tree_rss_mib(pid: int) -> float:
    """Summed resident memory of `pid` and every process below it, in MiB."""
    return sum(rss_mib(p) for p in (pid, *descendants(pid)))


def memory_budget(option: float | None = None) -> float | None:
    """The budget in MiB: `option`, else DLCOURSE_MEMORY_BUDGET; None (no budget) where
    neither is set, and for 0. Raises ValueError for a budget that is not a number
    (`grade-batch` gives each of its graders a share of it)."""
    if option is None and os.environ.get(ENV, "").strip():
        option = float(os.environ[ENV])
    if option is not None:
        if option != option or option < 0:  # NaN or negative
            raise ValueError(f"a memory budget is a number of MiB, not {option!r}")
        return float(option) or None
    return None


def over(budget: float | None, *pids: int) -> bool:
    """Whether the processes `pids` (each with its descendants) leave less than one
    chapter's growth under `budget`."""
    if not budget:
        return False
    return sum(tree_rss_mib(p) for p in pids) > budget - CHAPTER_GROWTH_MIB
