"""The pytest plugin that runs the checks against one submission and collects results.

Registered only by `grader.runner` (never auto-loaded). It provides the `student` and
`ref` fixtures, keeps only the checks of the selected exercises (and drops hidden ones
unless asked), seeds Hypothesis, and turns each check's outcome into a `CheckResult`
with a message from the catalogue.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pytest

from grader import messages, probes, replay
from grader.checks import HIDDEN
from grader.compare import CheckFailure, PartialCredit
from grader.curriculum import chapter as chapter_of
from grader.curriculum import find
from grader.results import CheckResult
from grader.student import Raised, StudentError, StudentProxy, Worker

MARKER = "dlcourse"


class Reference:
    """The reference functions of one exercise's chapter, called in the grader process.

    With a `recorder` (building a student release), every call's inputs and output are
    recorded, see `grader.replay`."""

    def __init__(self, exercise_id: str, recorder: replay.Recorder | None = None):
        self._chapter = chapter_of(find(exercise_id).chapter)
        self._modules = [importlib.import_module(f"solutions.{m}") for m in self._chapter.modules]
        self._recorder = recorder

    def __getattr__(self, name: str):
        for module in self._modules:
            func = getattr(module, name, None)
            if callable(func):
                return lambda *args, **kwargs: self._call(name, func, args, kwargs)
        raise AttributeError(name)

    def _call(self, name, func, args, kwargs):
        out = func(*probes.resolve(args), **probes.resolve(kwargs))
        if self._recorder is not None:
            self._recorder.record(self._chapter.id, name, args, kwargs, out)
        return out


class ReplayReference:
    """The `ref` fixture of a student release: outputs recorded at release time, looked
    up by a hash of the inputs (`grader.replay`); no reference code is shipped."""

    def __init__(self, exercise_id: str):
        self._chapter = find(exercise_id).chapter

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: replay.lookup(self._chapter, name, args, kwargs)


@dataclass(eq=False)
class Collector:
    """Plugin state for one run."""

    worker: Worker
    selected: set[str]
    include_hidden: bool
    seed: int
    lang: str | None = None
    recorder: replay.Recorder | None = None
    """Set when building a student release: the references' outputs are recorded."""
    results: dict[str, list[CheckResult]] = field(default_factory=dict)
    hidden_not_run: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    poisoned: dict[str, StudentError] = field(default_factory=dict)

    # --- configuration and selection ------------------------------------------------

    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", f"{MARKER}(exercise, points, visibility): a graded check of one exercise")

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, session, config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            mark = item.get_closest_marker(MARKER)
            if mark is None or mark.kwargs["exercise"] not in self.selected:
                drop.append(item)
            elif mark.kwargs["visibility"] == HIDDEN and not self.include_hidden:
                self.hidden_not_run[mark.kwargs["exercise"]] = self.hidden_not_run.get(mark.kwargs["exercise"], 0) + 1
                drop.append(item)
            else:
                keep.append(item)
                # the run's seed, so --seed reproduces every drawn input
                inner = getattr(item.obj, "hypothesis", None)
                if inner is not None:
                    item.obj._hypothesis_internal_use_seed = self.seed
        items[:] = keep
        if drop:
            config.hook.pytest_deselected(items=drop)

    @pytest.hookimpl
    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.problems.append(str(report.longrepr)[-3000:])

    # --- fixtures --------------------------------------------------------------------

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentProxy:
        exercise = find(request.node.get_closest_marker(MARKER).kwargs["exercise"])
        return StudentProxy(self.worker, exercise, self.poisoned)

    @pytest.fixture
    def ref(self, request: pytest.FixtureRequest) -> Reference | ReplayReference:
        exercise_id = request.node.get_closest_marker(MARKER).kwargs["exercise"]
        if self.recorder is None and replay.active():
            return ReplayReference(exercise_id)
        return Reference(exercise_id, self.recorder)

    @pytest.fixture
    def device(self) -> str:
        return self.worker.device

    # --- results ---------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        mark = item.get_closest_marker(MARKER)
        if mark is None or (call.when == "setup" and report.passed) or call.when == "teardown":
            return report
        exercise = mark.kwargs["exercise"]
        points = float(mark.kwargs["points"])
        visibility = mark.kwargs["visibility"]
        name = item.name.removeprefix("check_")
        if report.passed:
            result = CheckResult(name, points, points, "passed", visibility, "", call.duration)
        else:
            exc = call.excinfo.value if call.excinfo else None
            status, message = self.explain(exc, visibility)
            earned = points * exc.fraction if isinstance(exc, PartialCredit) else 0.0
            result = CheckResult(name, round(earned, 4), points, status, visibility, message, call.duration)
        self.results.setdefault(exercise, []).append(result)
        return report

    def explain(self, exc: BaseException | None, visibility: str) -> tuple[str, str]:
        """The status and the student-facing message for a failed check."""
        public = visibility != HIDDEN
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]  # Hypothesis' FlakyFailure and friends
        t = lambda key, **p: messages.text(key, self.lang, **p)  # noqa: E731
        if isinstance(exc, CheckFailure):
            lines = [t(exc.key, **exc.params)]
            if "also" in exc.reveal:
                lines.append(t("detail.also", value=exc.reveal["also"]))
            if public:
                for label in ("at", "inputs", "expected", "got"):
                    if label in exc.reveal:
                        lines.append(t(f"detail.{label}", value=exc.reveal[label]))
            else:
                lines.append(t("detail.hidden"))
            return "failed", "\n".join(lines)
        if isinstance(exc, StudentError):
            key = exc.key
            if isinstance(exc, Raised) and "same device" in str(exc.params.get("message", "")):
                key = "student.device_mix"
            lines = [t(key, **exc.params)]
            trace = exc.params.get("trace")
            if trace and exc.status in ("error",):
                lines.append(t("detail.trace", value=trace))
            if public and exc.status != "not_started" and getattr(exc, "__notes__", None):
                lines.append(t("detail.example", value=_example(exc.__notes__)))
            if exc.params.get("output"):
                lines.append(t("detail.output", value=str(exc.params["output"])[:1500]))
            return exc.status, "\n".join(lines)
        detail = f"{type(exc).__name__}: {exc}" if exc else "unknown"
        return "error", t("check.internal_error", detail=detail[:500])


def _example(notes: list[str]) -> str:
    """Hypothesis' "Falsifying example" note without the fixtures' own lines."""
    text = "\n".join(n for n in notes if not n.startswith("You can reproduce"))
    lines = [line for line in text.splitlines() if "=<grader." not in line]
    return "\n".join(lines).strip()[:1500]
