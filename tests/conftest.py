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


OUTCOME_SALT = 0
"""The data salt of the outcome ("train") checks graded in the suite's own processes.
A grading process draws its salt in secret (`grader/checks/ch5_cnn.py`,
`grader/checks/ch10_generative.py`), so a weaker correct solution may pass on one draw
and fall short on another: the suite pins one, so that a test's verdict is reproducible.
How the reference and the variants fare over many salts is measured, not tested:
`benchmarks/bench_outcomes.py` (salt 0 is one of the salts it reports)."""


def _pin_outcome_salt() -> None:
    from grader.checks import ch5_cnn, ch10_generative

    for module in (ch5_cnn, ch10_generative):
        module._run_salt = lambda: OUTCOME_SALT


def pytest_configure(config) -> None:
    try:  # the torch-free engine tests also run in venvs without torch (test_python_versions)
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
        _pin_outcome_salt()
    # with pytest-xdist (-n), tests that share a module-scoped fixture by `xdist_group`
    # (the mutants' graded slots) run in one process, so the fixture's work is done once
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    # a worker parses the command line (`-n 2`: "load") and decides whether to give each
    # test its group's name before this hook runs: tell it the controller's choice
    if getattr(config, "workerinput", {}).get("dlcourse_loadgroup"):
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist, in the controller, before a worker starts: its scheduling."""
    node.workerinput["dlcourse_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """With pytest-xdist: the tests of a module where one uses a module-scoped fixture (a
    built wheel, a student release, a graded submission) run in one process, so the
    fixture is built once, not once per process (a test may reach it through
    `request.getfixturevalue`, so the whole module goes). Tests that name their own
    `xdist_group` (the mutants, grouped by graded slot) keep it."""
    if not getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    grouped = set()
    for item in items:
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d.scope == "module" for fixturedefs in defs.values() for d in fixturedefs):
            grouped.add(item.module.__name__)
    for item in items:
        if item.get_closest_marker("xdist_group") is None and item.module.__name__ in grouped:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(autouse=True)
def _language_restored():
    """A command run in this process with `--lang` sets DLCOURSE_LANG for the process (as it
    must for a real `dlcourse` process and its worker): each test leaves it as it found it,
    so a later test in the same pytest-xdist worker does not read Korean."""
    saved = os.environ.get("DLCOURSE_LANG")
    yield
    if saved is None:
        os.environ.pop("DLCOURSE_LANG", None)
    else:
        os.environ["DLCOURSE_LANG"] = saved


@pytest.fixture(scope="session")
def slot_reports(tmp_path_factory):
    """`get(key) -> (folder, report)`: each mutants' slot graded as the instructor grades,
    once per test process (`tests.graded`)."""
    from tests.graded import slot_reports

    return slot_reports(tmp_path_factory.mktemp("slots"))


@pytest.fixture(scope="session")
def student_release(tmp_path_factory):
    """`get() -> folder`: the student release of this checkout, built once per test session
    (`tests.graded`): pytest-xdist's workers share the parent of their temporary folders."""
    from tests.graded import student_release

    base = tmp_path_factory.getbasetemp()
    return student_release(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
