"""What a student reads from the command line: `--lang` anywhere, one error path, wording,
the Korean table at 80 columns, one story about points, one message per syntax error."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from dlcourse_cli import output
from dlcourse_cli.main import app
from grader import messages
from grader.results import CheckResult, ExerciseResult, Report

runner = CliRunner()
IMPORT_ERROR = "Your file ch4_backprop.py could not be imported: SyntaxError: invalid syntax (ch4_backprop.py, line 3)"


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Each test starts in English; a `--lang` set by a command does not leak out."""
    monkeypatch.setenv("DLCOURSE_LANG", "en")


def render(report: Report, width: int = 100, **kwargs) -> str:
    buffer = io.StringIO()
    output.render_report(report, ["ch4"], Console(file=buffer, width=width, highlight=False), elapsed=1.0, **kwargs)
    return buffer.getvalue()


def check(name: str, status: str = "passed", points: float = 1, message: str = "", visibility: str = "public") -> CheckResult:
    return CheckResult(name, points if status == "passed" else 0, points, status, visibility, message)


# --- --lang after the command -------------------------------------------------------


@pytest.mark.parametrize("args", [["list", "--lang", "ko"], ["--lang", "ko", "list"], ["hint", "ch4.linear_backward", "--lang", "ko"]])
def test_lang_is_accepted_before_and_after_the_command(args, tmp_path):
    result = runner.invoke(app, args + ["--path", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search("[가-힣]", result.stdout)


def test_a_bad_lang_after_the_command_is_a_usage_error():
    result = runner.invoke(app, ["list", "--lang", "fr"])
    assert result.exit_code == 2 and "fr" in result.stderr


# --- one place where exceptions become messages -------------------------------------


OWNED = ["hint", "listing", "progress", "report", "reset", "watch", "grade"]


@pytest.mark.parametrize("module", OWNED)
def test_commands_do_not_catch_to_print(module):
    source = (Path(output.__file__).parent / "commands" / f"{module}.py").read_text(encoding="utf-8")
    assert "die(" not in source and "except Exception" not in source


def test_an_unexpected_error_is_one_message_and_exit_3_with_the_traceback_only_under_debug(monkeypatch, tmp_path):
    from dlcourse_cli import summary

    def broken(path):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(summary, "summarise", broken)
    monkeypatch.delenv("DLCOURSE_DEBUG", raising=False)
    result = runner.invoke(app, ["progress", "--path", str(tmp_path)])
    assert result.exit_code == 3
    assert "The grader could not run: RuntimeError: database on fire" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    monkeypatch.setenv("DLCOURSE_DEBUG", "1")
    debug = runner.invoke(app, ["progress", "--path", str(tmp_path)])
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


# --- wording --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "grade", "list", "reset", "watch"])
def test_help_shows_no_metavar_for_a_flag(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "--help" in result.stdout


def test_one_hidden_check_is_singular():
    report = Report(1, "cpu", [ExerciseResult("ch4.linear_backward", "ch4", [check("a", points=3)], hidden_not_run=1)])
    shown = " ".join(render(report).split())
    assert "1 hidden check (worth 1) was not run" in shown
    assert "1 hidden checks" not in shown and "1 points" not in shown


def test_an_object_of_another_type_reads_with_the_right_article():
    assert messages.text("type.other", "en", name="ndarray") == "an object of type ndarray"


def test_grade_does_not_end_with_public_checks_only():
    report = Report(1, "cpu", [ExerciseResult("ch4.linear_backward", "ch4", [check("a", points=3), check("b", visibility="hidden")])])
    graded = " ".join(render(report, command="grade").split())
    assert messages.text("cli.all_passed_graded") in graded and "public checks." not in graded
    assert "public and hidden" in graded


def test_a_hint_is_wrapped_without_breaking_a_formula():
    result = runner.invoke(app, ["hint", "ch10.ddpm_step", "--level", "3"], env={"COLUMNS": "60"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 60
    assert any("(1 - abar_{t-1}) / (1 - abar_t) * beta_t." in line for line in lines), result.stdout


def test_wrap_keeps_inline_code_and_indentation():
    lines = output.wrap("  use `torch.zeros(n, device=x.device)` for a new tensor of the right kind", 42)
    assert any("`torch.zeros(n, device=x.device)`" in line for line in lines)
    assert all(line.startswith("  ") for line in lines)


# --- Korean at 80 columns -------------------------------------------------------------


def test_the_korean_table_keeps_status_and_points_at_80_columns(monkeypatch):
    monkeypatch.setenv("DLCOURSE_LANG", "ko")
    long = "여러분의 함수가 반환한 값의 shape가 기댓값과 다릅니다. 행렬 곱에서 각 인수가 어느 쪽에 오는지 확인하십시오. " * 2
    report = Report(1, "cpu", [
        ExerciseResult("ch4.softmax_cross_entropy", "ch4", [check("a", "failed", 4, long)]),
        ExerciseResult("ch4.linear_forward", "ch4", [check("a", points=2)]),
    ])
    text = render(report, width=80)
    table = text.split(messages.text("cli.details", "ko"))[0].splitlines()
    assert all(cell_len(line) <= 80 for line in table)
    row = next(line for line in table if "ch4.softmax_cross_entropy" in line)
    assert row.startswith("✗") and "0/4" in row and row.rstrip().endswith("…")
    assert "점수" in table[0] and "2/2" in next(line for line in table if "ch4.linear_forward" in line)


# --- points tell one story --------------------------------------------------------------


def test_list_progress_and_check_agree_on_public_and_hidden_points(tmp_path):
    rows = json.loads(runner.invoke(app, ["list", "--json", "--path", str(tmp_path)]).stdout)
    row = next(r for r in rows if r["id"] == "ch4.linear_backward")
    assert row["public_points"] + row["hidden_points"] == row["points"] and row["hidden_points"] > 0
    progress = json.loads(runner.invoke(app, ["progress", "--json", "--path", str(tmp_path)]).stdout)
    assert progress["max_score"] == sum(r["public_points"] for r in rows)
    assert progress["hidden_points"] == sum(r["hidden_points"] for r in rows)
    exercise = next(e for e in progress["exercises"] if e["id"] == "ch4.linear_backward")
    assert (exercise["points"], exercise["hidden_points"]) == (row["public_points"], row["hidden_points"])
    human = " ".join(runner.invoke(app, ["list", "--path", str(tmp_path)], env={"COLUMNS": "200"}).stdout.split())
    assert f"{row['public_points']:g} + {row['hidden_points']:g}" in human


def test_the_points_split_matches_the_checks_marks():
    import importlib

    from dlcourse_cli.points import split
    from grader.curriculum import chapters

    public: dict[str, float] = {}
    for c in chapters():
        module = importlib.import_module(f"grader.checks.{c.modules[0]}")
        for name, func in vars(module).items():
            for mark in getattr(func, "pytestmark", []) if name.startswith("check_") else []:
                if mark.name == "dlcourse" and mark.kwargs["visibility"] == "public":
                    public[mark.kwargs["exercise"]] = public.get(mark.kwargs["exercise"], 0) + mark.kwargs["points"]
    assert {k: v.public for k, v in split().items()} == public


# --- one message per syntax error -------------------------------------------------------


def test_a_syntax_error_is_one_message_not_one_per_check():
    exercises = [
        ExerciseResult(f"ch4.{name}", "ch4", [check(f"{name}_{i}", "error", 1, f"{IMPORT_ERROR}\n  Falsifying example: {name}({i})") for i in range(3)])
        for name in ("linear_forward", "linear_backward", "relu_backward", "sgd_step")
    ]
    text = render(Report(1, "cpu", exercises))
    assert text.count(IMPORT_ERROR) == 1
    assert "Falsifying example" not in text
    assert text.count(messages.text("cli.same_as_above")) == 3
    assert len(text.splitlines()) < 20


def test_different_failures_keep_their_own_messages():
    exercises = [ExerciseResult("ch4.sgd_step", "ch4", [check("a", "failed", 1, "out is wrong: 1"), check("b", "failed", 1, "out is wrong: 2")])]
    text = render(Report(1, "cpu", exercises))
    assert "out is wrong: 1" in text and "out is wrong: 2" in text


# --- the footer's time counts start-up -----------------------------------------------


def test_the_footer_shows_the_process_time_when_the_command_line_runs(monkeypatch):
    from dlcourse_cli import clock

    report = Report(1, "cpu", [ExerciseResult("ch4.sgd_step", "ch4", [check("a")])], duration=0.5)
    buffer = io.StringIO()
    monkeypatch.setattr(clock, "ENTRY", None)
    output.render_report(report, ["ch4"], Console(file=buffer, width=100))
    assert "0.5 s" in buffer.getvalue()  # a notebook: the run's own time
    monkeypatch.setattr(clock, "ENTRY", 0.0)
    monkeypatch.setattr(clock, "IMPORTED", time.perf_counter())
    monkeypatch.setattr(clock, "_proc_age", lambda: 7.25)
    buffer = io.StringIO()
    output.render_report(report, ["ch4"], Console(file=buffer, width=100))
    assert "7.2 s" in buffer.getvalue() or "7.3 s" in buffer.getvalue()


def test_the_process_age_is_read_from_the_system():
    from dlcourse_cli import clock

    age = clock._proc_age()
    assert age is None or 0 <= age < 24 * 3600


def test_the_notebook_api_suggests_like_the_cli(tmp_path):
    import dlcourse_cli
    from grader.curriculum import UnknownTarget

    with pytest.raises(UnknownTarget, match="Did you mean: ch4.linear_forward"):
        dlcourse_cli.check("ch4.linear_forwrd", path=tmp_path)


def test_the_html_report_has_a_legend_and_draws_a_finished_chapter_full():
    import xml.etree.ElementTree as ET

    from dlcourse_cli.report import svg

    chart = ET.fromstring(svg.bars("t", [("ch1", 10, 10), ("ch4", 5, 55)], legend=[("passed", "passed"), ("partial", "partial")]))
    ns = "{http://www.w3.org/2000/svg}"
    rects = {(r.get("class"), r.get("data-label")): r for r in chart.iter(f"{ns}rect")}
    full = [r for r in chart.iter(f"{ns}rect") if r.get("class") == "bar-max"][0]
    assert rects[("bar", "ch1")].get("height") == full.get("height")
    assert chart.find(f"{ns}g[@class='legend']") is not None
