"""How long this `dlcourse` process has been running, start-up included: the footer of
`check` shows what a student waited for, not only the grading.

Linux gives the process's start time (`/proc/self/stat`, field 22, in clock ticks since
boot, against `/proc/uptime`); elsewhere the clock starts when `dlcourse_cli` is first
imported, which is the first thing the console script does.
"""

from __future__ import annotations

import os
import time

IMPORTED = time.perf_counter()
"""perf_counter() when this module was imported (the fallback start)."""
ENTRY: float | None = None
"""perf_counter() at the command line's entry point; None when no command line runs
(a notebook), where the run's own duration is shown instead."""


def _proc_age() -> float | None:
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of the whole line
    except (OSError, ValueError, IndexError):
        return None
    age = uptime - started
    return age if age >= 0 else None


def elapsed() -> float | None:
    """Seconds since the process started, when it runs the command line; else None."""
    if ENTRY is None:
        return None
    fallback = time.perf_counter() - IMPORTED
    age = _proc_age()
    return max(fallback, age) if age is not None else fallback
