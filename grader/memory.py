"""Memory of the grading processes, and the budget that keeps them inside a container.

    budget = memory_budget()          # MiB: DLCOURSE_MEMORY_BUDGET, else the container's
    tree_rss_mib(worker_pid)          # the worker and every process below it

Gradescope's default container holds 768 MB. `grade all` keeps one grader and one worker
for the whole run, and the worker grows as chapters train models (torch's kernels and
buffers stay mapped once touched). With a budget, the grader replaces its worker with a
fresh one at a chapter boundary when the tree (its own RSS and the worker's) is within
`CHAPTER_GROWTH_MIB` of the budget (`grader.plugin`). Linux only (/proc, cgroups);
elsewhere no figure is known and no worker is replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "DLCOURSE_MEMORY_BUDGET"
CHAPTER_GROWTH_MIB = 64
"""What one chapter adds to the tree at most, measured on `grade all` of the references
(ch1's scikit-learn import in the grader: +60 MiB; ch5's trainings in the worker: +55)."""
CONTAINER_SHARE = 0.9
"""Of a container's memory limit, the part the tree may use (the rest: the page cache of
the files read, a shell, the exports)."""
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
_NO_LIMIT = 1 << 60


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


def container_limit_mib() -> float | None:
    """The memory limit of this process's cgroup (v2, then v1) in MiB; None without one."""
    for name in _CGROUP_LIMITS:
        try:
            raw = Path(name).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and 0 < int(raw) < _NO_LIMIT:
            return int(raw) / (1 << 20)
        return None
    return None


def memory_budget(option: float | None = None) -> float | None:
    """The budget in MiB: `option`, else DLCOURSE_MEMORY_BUDGET, else CONTAINER_SHARE of
    the container's limit; None (no budget) where none is set and no limit is known, and
    for 0. Raises ValueError for a budget that is not a number (`grade-batch` gives each of
    its graders a share of it)."""
    if option is None and os.environ.get(ENV, "").strip():
        option = float(os.environ[ENV])
    if option is not None:
        if option != option or option < 0:  # NaN or negative
            raise ValueError(f"a memory budget is a number of MiB, not {option!r}")
        return float(option) or None
    limit = container_limit_mib()
    return None if limit is None else limit * CONTAINER_SHARE


def over(budget: float | None, *pids: int) -> bool:
    """Whether the processes `pids` (each with its descendants) leave less than one
    chapter's growth under `budget`."""
    if not budget:
        return False
    return sum(tree_rss_mib(p) for p in pids) > budget - CHAPTER_GROWTH_MIB
