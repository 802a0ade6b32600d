"""The pytest plugin that runs the checks against one submission and collects results.

Registered only by `grader.runner` (never auto-loaded). It provides the `student` and
`ref` fixtures, keeps only the checks of the selected exercises (and drops hidden ones
unless asked), seeds Hypothesis, and turns each check's outcome into a `CheckResult`
with a message from the catalogue.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

import pytest

from grader import calls, messages, probes, replay, sanitize
from grader.checks import HIDDEN
from grader.compare import CheckFailure, PartialCredit
from grader.curriculum import chapter as chapter_of
from grader.curriculum import find
from grader.results import CheckResult
from grader.student import (
    Banned,
    Crashed,
    Integrity,
    Missing,
    MutatedInput,
    NotStarted,
    Raised,
    StudentError,
    StudentProxy,
    TimedOut,
    UsedAutograd,
    Worker,
    WrongDevice,
)

# StudentErrors whose message holds no text the student's code chose (nothing a hidden
# input could have been written into); any other shows only where it happened for a hidden check
_NO_STUDENT_TEXT = (Banned, UsedAutograd, TimedOut, Crashed, Integrity, Missing, NotStarted, MutatedInput, WrongDevice)

MARKER = "dlcourse"


def _grading_settings(test, hidden: bool) -> None:
    """The grading profile's settings on `test`, however its module was imported: a check
    module first imported outside `profiles.use` (a notebook, another tool) bakes
    Hypothesis' defaults (a 200 ms deadline, 100 examples, a database) into any explicit
    `@settings`. Public checks draw `profiles.PUBLIC_EXAMPLES` in `check` and `grade`
    alike, hidden ones `HIDDEN_EXAMPLES`; a check that chose its own number keeps it."""
    from hypothesis import settings

    from grader import profiles

    current = getattr(test, "_hypothesis_internal_use_settings", None) or settings.default
    examples = current.max_examples
    if examples in (profiles.PUBLIC_EXAMPLES, settings.get_profile("default").max_examples):
        examples = profiles.HIDDEN_EXAMPLES if hidden else profiles.PUBLIC_EXAMPLES
    test._hypothesis_internal_use_settings = settings(current, max_examples=examples, **profiles.GRADING)


class Reference:
    """The reference functions of one exercise's chapter, called in the grader process.

    With a `recorder` (building a student release), every call's inputs and output are
    recorded, see `grader.replay`."""

    def __init__(self, exercise_id: str, recorder: replay.Recorder | None = None):
        self._chapter = chapter_of(find(exercise_id).chapter)
        self._modules = [importlib.import_module(f"solutions.{m}") for m in self._chapter.modules]
        # the reference side of known mistakes and check-side truths (`solutions/mistakes/`):
        # reached through `ref` like the references, so a release ships their outputs only
        for m in self._chapter.modules:
            if importlib.util.find_spec(f"solutions.mistakes.{m}") is not None:
                self._modules.append(importlib.import_module(f"solutions.mistakes.{m}"))
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
    integrity: dict[str, list[str]] = field(default_factory=dict)
    """Integrity flags per exercise id (`grader.integrity`): the exercise scores 0."""

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
                    _grading_settings(item.obj, hidden=mark.kwargs["visibility"] == HIDDEN)
        items[:] = keep
        if drop:
            config.hook.pytest_deselected(items=drop)

    @pytest.hookimpl
    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.problems.append(str(report.longrepr)[-3000:])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        calls.start()  # each check speaks only of its own calls

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
            exc = _first(call.excinfo.value if call.excinfo else None)
            if isinstance(exc, Integrity):
                flags = self.integrity.setdefault(exercise, [])
                flags.extend(f for f in exc.flags if f not in flags)
            status, message = self.explain(exc, visibility)
            earned = points * exc.fraction if isinstance(exc, PartialCredit) else 0.0
            mistake = exc.key if isinstance(exc, CheckFailure) and exc.key.startswith("mistake.") else ""
            result = CheckResult(name, round(earned, 4), points, status, visibility, message, call.duration, mistake)
        self.results.setdefault(exercise, []).append(result)
        return report

    def explain(self, exc: BaseException | None, visibility: str) -> tuple[str, str]:
        """The status and the student-facing message for a failed check. A hidden check
        shows no input, no value and nothing the student's code printed or raised: only
        its status, and where in the student's own file it failed."""
        public = visibility != HIDDEN
        exc = _first(exc)
        t = lambda key, **p: messages.text(key, self.lang, **p)  # noqa: E731
        if isinstance(exc, CheckFailure):
            lines = [t(exc.key, **exc.params)]
            if public:
                if "also" in exc.reveal:
                    lines.append(t("detail.also", value=exc.reveal["also"]))
                for label in ("at", "inputs", "expected", "got"):
                    if label in exc.reveal:
                        lines.append(t(f"detail.{label}", value=exc.reveal[label]))
            else:
                lines.append(t("detail.hidden"))
            return "failed", "\n".join(lines)
        if isinstance(exc, StudentError):
            status = "error" if exc.status == "integrity" else exc.status
            if not public and not isinstance(exc, _NO_STUDENT_TEXT):
                where = exc.params.get("file")
                if where and where != "?":
                    return status, t("detail.hidden_where", file=where, line=exc.params.get("line", 0))
                return status, t("detail.hidden")
            key = exc.key
            if isinstance(exc, Raised) and "same device" in str(exc.params.get("message", "")):
                key = "student.device_mix"
            lines = [t(key, **exc.params)]
            if not public:
                return status, lines[0]
            trace = exc.params.get("trace")
            if trace and exc.status in ("error",):
                lines.append(t("detail.trace", value=trace))
            if exc.status != "not_started" and getattr(exc, "__notes__", None):
                lines.append(t("detail.example", value=_example(exc.__notes__)))
            if exc.params.get("output"):
                lines.append(t("detail.output", value=sanitize.clean(exc.params["output"], 1500)))
            return status, "\n".join(lines)
        detail = f"{type(exc).__name__}: {exc}" if exc else "unknown"
        if not public:
            detail = type(exc).__name__ if exc else "unknown"
        return "error", t("check.internal_error", detail=sanitize.clean(detail, 500))


def _first(exc: BaseException | None) -> BaseException | None:
    """The first leaf of an exception group (Hypothesis' FlakyFailure and friends);
    `BaseExceptionGroup` is a builtin from Python 3.11 only, so test by attribute."""
    seen = 0
    while exc is not None and isinstance(getattr(exc, "exceptions", None), (list, tuple)) and exc.exceptions and seen < 20:
        exc, seen = exc.exceptions[0], seen + 1
    return exc


def _example(notes: list[str]) -> str:
    """Hypothesis' "Falsifying example" note without the fixtures' own lines."""
    text = "\n".join(n for n in notes if not n.startswith("You can reproduce"))
    lines = [line for line in text.splitlines() if "=<grader." not in line]
    return sanitize.clean("\n".join(lines).strip(), 1500)
