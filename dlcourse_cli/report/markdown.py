"""The Markdown report: headings and tables, with each chart as an inline image
(`data:image/svg+xml;base64,...`), so the one file stays self-contained. Viewers that
refuse data URIs (GitHub's) show the charts' alt text; the HTML report has no such limit."""

from __future__ import annotations

import base64
from datetime import datetime

from dlcourse_cli.report import CHART_IDS, chapter_rows, charts, exercise_rows, hidden_line, summary_line
from grader.messages import text


def to_markdown(progress, workspace: str) -> str:
    """The whole document for `progress` (a `dlcourse_cli.summary.Progress`)."""
    made = datetime.now().strftime("%Y-%m-%d %H:%M")
    figures = charts(progress)
    lines = [
        f"# {text('selfstudy.report_title')}",
        "",
        f"_{_cell(text('selfstudy.report_generated', time=made, workspace=workspace))}_",
        "",
        summary_line(progress),
        "",
    ]
    if hidden_line(progress):
        lines += [f"_{_cell(hidden_line(progress))}_", ""]
    if progress.next:
        lines += [text("selfstudy.next", exercise=progress.next, title=text(f"title.{progress.next}")), ""]
    for chart_id, key in zip(CHART_IDS, ("chart_score_per_chapter", "chart_points_over_time", "chart_attempts_per_exercise")):
        data = base64.b64encode(figures[chart_id].encode("utf-8")).decode("ascii")
        lines += [f"![{text(f'selfstudy.{key}')}](data:image/svg+xml;base64,{data})", ""]
    lines += [f"## {text('selfstudy.report_chapters')}", "", *_table(*chapter_rows(progress)), ""]
    header, rows = exercise_rows(progress)
    if rows:
        lines += [f"## {text('selfstudy.report_exercises')}", "", *_table(header, rows), ""]
    return "\n".join(lines)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("_", "\\_").replace("*", "\\*")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out
