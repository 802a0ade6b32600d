"""`dlcourse report`: the progress summary as one self-contained page, HTML (`page`) or
Markdown (`markdown`), with three charts drawn as inline SVG (`svg`): score per chapter,
points over time and attempts per exercise. Nothing is fetched from the network, so
the page opens offline; the SVG is generated here, with no plotting library.
"""

from __future__ import annotations

from dlcourse_cli.report import svg
from grader.messages import text

CHART_IDS = ("score-per-chapter", "points-over-time", "attempts-per-exercise")


def charts(progress) -> dict[str, str]:
    """The three charts of `progress` (a `dlcourse_cli.summary.Progress`), keyed by CHART_IDS."""
    tried = [e for e in progress.exercises if e.attempts]
    empty = text("selfstudy.report_no_data")
    return {
        "score-per-chapter": svg.bars(
            text("selfstudy.chart_score_per_chapter"),
            [(c.id, c.score, c.max_score) for c in progress.chapters],
            chart_id="score-per-chapter",
            empty=empty,
            legend=legend()[:2],
        ),
        "points-over-time": svg.steps(
            text("selfstudy.chart_points_over_time"),
            progress.timeline,
            progress.max_score,
            chart_id="points-over-time",
            empty=empty,
        ),
        "attempts-per-exercise": svg.hbars(
            text("selfstudy.chart_attempts_per_exercise"),
            [(e.id, e.attempts, e.state) for e in tried],
            chart_id="attempts-per-exercise",
            empty=empty,
            legend=legend(),
        ),
    }


def hidden_line(progress) -> str:
    """What hidden checks add beyond the public points, or "" when they add nothing."""
    return text("selfstudy.hidden_points", points=progress.hidden_points) if progress.hidden_points else ""


def legend() -> list[tuple[str, str]]:
    """(colour key of `svg.COLOURS`, label) of the charts' colours."""
    return [(state, text(f"selfstudy.state_{state}")) for state in ("passed", "partial", "not_started")]


def summary_line(progress) -> str:
    from dlcourse_cli.output import duration

    passed = sum(e.state == "passed" for e in progress.exercises)
    return text("selfstudy.total", score=progress.score, max_score=progress.max_score, passed=passed,
                total=len(progress.exercises), time=duration(progress.time_spent))


def chapter_rows(progress) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-chapter table, as plain strings."""
    from dlcourse_cli.output import duration, when

    header = [text(f"selfstudy.col_{k}") for k in ("chapter", "passed", "partial", "not_started", "points", "time", "first_pass", "latest_pass", "next")]
    rows = [
        [f"{c.id} {text(f'chapter.{c.id}')}", str(c.count("passed")), str(c.count("partial")), str(c.count("not_started")),
         f"{c.score:g}/{c.max_score:g}", duration(c.time_spent) if c.time_spent else "–", when(c.first_pass, date_only=True),
         when(c.latest_pass, date_only=True), c.next or text("selfstudy.chapter_done")]
        for c in progress.chapters
    ]
    return header, rows


def exercise_rows(progress) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table of exercises you have worked on (checked or asked hints for)."""
    from dlcourse_cli.output import when

    header = [text(f"selfstudy.col_{k}") for k in ("exercise", "title", "state", "points", "attempts", "hints", "first_pass")]
    rows = [
        [e.id, text(f"title.{e.id}"), text(f"selfstudy.state_{e.state}"), f"{e.score:g}/{e.points:g}", str(e.attempts),
         str(e.hints_shown), when(e.first_pass, date_only=True)]
        for e in progress.exercises
        if e.attempts or e.hints_shown
    ]
    return header, rows
