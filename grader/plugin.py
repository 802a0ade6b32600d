"""The pytest plugin that runs the checks against one submission and collects results.

Registered only by `grader.runner` (never auto-loaded). It provides the `student` and
`ref` fixtures, keeps only the checks of the selected exercises (and drops hidden ones
unless asked), seeds Hypothesis, and turns each check's outcome into a `CheckResult`
with a message from the catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import hypothesis
import pytest

from grader import calls, memory, messages, replay, sanitize
from grader.checks import HIDDEN, first_failure, start_check
from grader.compare import CheckFailure, PartialCredit
from grader.curriculum import find
from grader.reference import Reference, ReplayReference, serving
from grader.results import CheckResult, Status
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


def _unformatted(excinfo: pytest.ExceptionInfo, *args, **kwargs) -> str:
    """A failed check's report text, which the grader never reads: no text of the
    exception's (its class may be the student's)."""
    return "failed (see the check's result)"


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
    memory_budget: float | None = None
    """MiB the grader and its worker may hold together (`grader.memory`): past the budget
    less one chapter's growth, the worker is replaced at the next chapter boundary."""
    _chapter: str | None = None
    _fresh_mib: float = 0.0
    """The worker's size when it became ready."""

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
                # the grader reads a failed check's exception itself (`explain`); pytest's
                # report would format its traceback with source, 0.2 s per failed check
                item.repr_failure = item._repr_failure_py = _unformatted
                # the run's seed, so --seed reproduces every drawn input (the grading
                # settings came with the check's `@exercise` mark)
                if hasattr(item.obj, "hypothesis"):
                    hypothesis.seed(self.seed)(item.obj)
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
        start_check()
        mark = item.get_closest_marker(MARKER)
        if mark is not None:
            self._enter_chapter(mark.kwargs["exercise"].split(".")[0])

    def _enter_chapter(self, chapter: str) -> None:
        """A fresh worker for the next chapter when the tree nears the memory budget and the
        worker has grown enough to be worth the restart (about 2.5 s): what the last
        chapters' trainings left in it goes with it. The student's files are imported anew;
        every call is seeded anew either way, so no score changes."""
        previous, self._chapter = self._chapter, chapter
        if not self.memory_budget or not hasattr(self.worker, "memory_mib") or previous == chapter:
            return
        if previous is not None:
            grown = self.worker.memory_mib() - self._fresh_mib
            if grown < memory.WORTH_A_RESTART_MIB or not memory.over(self.memory_budget, os.getpid()):
                return
            self.worker.stop()
        try:
            self._fresh_mib = self.worker.memory_mib(wait=True)
        except StudentError:  # it cannot start: the check's first call says so
            self._fresh_mib = 0.0

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        """A check is scored only once the last reply it received is verified
        (`StudentProxy.settled`): a reply forged ahead of the worker's own scores the
        exercise as an integrity failure, whatever the check concluded from it."""
        mark = item.get_closest_marker(MARKER)
        try:
            return (yield)
        finally:
            if mark is not None:
                StudentProxy(self.worker, find(mark.kwargs["exercise"]), self.poisoned).settled()

    # --- fixtures --------------------------------------------------------------------

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentProxy:
        exercise = find(request.node.get_closest_marker(MARKER).kwargs["exercise"])
        return StudentProxy(self.worker, exercise, self.poisoned)

    @pytest.fixture(autouse=True)
    def ref(self, request: pytest.FixtureRequest) -> Iterator[Reference | ReplayReference]:
        # autouse: the current reference also answers for known mistakes (`grader.known`),
        # and records them when building a release, in checks that never name `ref`
        mark = request.node.get_closest_marker(MARKER)
        if mark is None:
            yield None
            return
        with serving(mark.kwargs["exercise"], self.recorder) as reference:
            yield reference

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
            result = CheckResult(name, points, points, Status.PASSED, visibility, "", call.duration)
        else:
            exc = _first(call.excinfo.value if call.excinfo else None)
            if isinstance(exc, Integrity):
                flags = self.integrity.setdefault(exercise, [])
                flags.extend(f for f in exc.flags if f not in flags)
            status, message = self.explain(exc, visibility)
            # the points come from the first example that failed, the message from the
            # smallest (see `grader.checks.first_failure`)
            credited = first_failure() or exc
            earned = points * credited.fraction if isinstance(credited, PartialCredit) else 0.0
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
            # several known mistakes give this very answer: each is named (public or not,
            # a catalogue message shows no input)
            lines += [t("detail.or_known", message=t(key)) for key in exc.reveal.get("or_known", ())]
            if public:
                # the call whose answer was judged, as the student would write it; the
                # check's own `inputs` only when it made no call
                call = getattr(exc, "call", None) or calls.last()
                if "also" in exc.reveal:
                    lines.append(t("detail.also", value=exc.reveal["also"]))
                if call is not None:
                    lines.append(t("detail.call", value=_call_text(call)))
                for label in ("at", "inputs", "expected", "got"):
                    if label in exc.reveal and not (label == "inputs" and call is not None):
                        lines.append(_detail(t, label, exc.reveal[label]))
                if call is not None and call.printed:
                    lines.append(t("detail.output", value=sanitize.clean(call.printed.rstrip(), 1500)))
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
            # the call that failed, as the student's code received it; never Hypothesis'
            # note (the check's name, its generator's arguments, a shrunk input)
            call = getattr(exc, "call", None)
            if call is not None and _shows_call(exc):
                key = "detail.call" if calls.made_here(call) else "detail.call_before"
                lines.append(t(key, value=_call_text(call)))
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


def _detail(t, label: str, value: object) -> str:
    """One line of evidence; "where" with (index, expected, got) is worded by the catalogue."""
    if label == "at" and isinstance(value, tuple) and len(value) == 3:
        index, expected, got = value
        return t("detail.at_entry", index=index, expected=expected, got=got)
    return t(f"detail.{label}", value=value)


def _shows_call(exc: StudentError) -> bool:
    """Whether the input may be the cause (an exception, a crash, a timeout, a bad
    answer), so the message shows the call that failed; not for a missing function, an
    import error, a banned call or code not started, which every input meets alike."""
    from grader.student import BadValue, Exited

    return isinstance(exc, (Raised, Exited, Crashed, TimedOut, BadValue, WrongDevice, MutatedInput))


def _call_text(call: calls.Call) -> str:
    """The student's call (`linear_forward(x=tensor(...), W=..., b=...)`), parameters
    named after the stub, values bounded by `diagnose.show`, indented under its label."""
    from grader import diagnose

    text = sanitize.clean(diagnose.show_call(call.func, calls.arguments(call)), 1500)
    return "\n".join("    " + line if line.strip() else "" for line in text.splitlines())
