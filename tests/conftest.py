"""Settings for the whole test suite.

Torch runs one thread per process: the suite's own processes, a pytest-xdist worker each,
and what they start (a grader's worker gets `OMP_NUM_THREADS` from its `threads`, a
`dlcourse` command run by a test inherits it). Two cores shared by several processes
are faster with one thread each than with every process spinning up as many threads as
there are cores; the grading results do not depend on it.
"""

from __future__ import annotations

import os

import pytest

# before any test module imports torch (OpenMP reads them once, at start-up)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_configure(config) -> None:
    try:  # the torch-free engine tests also run in venvs without torch (test_python_versions)
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
    # with pytest-xdist (-n), tests that share a module-scoped fixture by `xdist_group`
    # (the mutants' graded slots) run in one process, so the fixture's work is done once
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """With pytest-xdist: a test that uses a module-scoped fixture (a built wheel, a
    student release, a graded submission) runs in the process of its module's other such
    tests, so the fixture is built once, not once per process. Tests that name their own
    `xdist_group` (the mutants, grouped by graded slot) keep it."""
    if not getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d.scope == "module" for fixturedefs in defs.values() for d in fixturedefs):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
