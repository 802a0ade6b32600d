"""The HTML report: one file with its styles and charts inline (no scripts, no fonts or
images fetched), so it opens offline and prints cleanly."""

from __future__ import annotations

from datetime import datetime
from html import escape

from dlcourse_cli.report import CHART_IDS, chapter_rows, charts, exercise_rows, hidden_line, summary_line
from grader.messages import current_lang, text

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; max-width: 1600px;
       margin: 2em auto; padding: 0 2em; color: #212121; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.meta, .hidden { color: #616161; margin-top: 0; }
.summary { font-size: 1.1em; margin-bottom: 0.2em; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1em 2em; }
figure { margin: 1em 0; }
figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 1em 0 2em; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 4px 6px; text-align: left; vertical-align: top; }
td + td { white-space: nowrap; }
td.num { text-align: right; }
@media print { .charts { display: block; } }
"""


def to_html(progress, workspace: str) -> str:
    """The whole page for `progress` (a `dlcourse_cli.summary.Progress`)."""
    title = text("selfstudy.report_title")
    made = datetime.now().strftime("%Y-%m-%d %H:%M")
    figures = charts(progress)
    parts = [
        "<!DOCTYPE html>",
        f"<html lang='{current_lang()}'>",
        "<head>",
        "<meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>{escape(text('selfstudy.report_generated', time=made, workspace=workspace))}</p>",
        f"<p class='summary'>{escape(summary_line(progress))}</p>",
    ]
    if hidden_line(progress):
        parts.append(f"<p class='hidden'>{escape(hidden_line(progress))}</p>")
    if progress.next:
        parts.append(f"<p class='next'>{escape(text('selfstudy.next', exercise=progress.next, title=text(f'title.{progress.next}')))}</p>")
    parts.append("<div class='charts'>")
    parts += [f"<figure>{figures[chart_id]}</figure>" for chart_id in CHART_IDS]
    parts.append("</div>")
    parts += [f"<h2>{escape(text('selfstudy.report_chapters'))}</h2>", _table(*chapter_rows(progress))]
    header, rows = exercise_rows(progress)
    if rows:
        parts += [f"<h2>{escape(text('selfstudy.report_exercises'))}</h2>", _table(header, rows)]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    def cell(tag: str, value: str) -> str:
        numeric = tag == "td" and value.replace("/", "").replace(".", "").isdigit()
        attributes = " class='num'" if numeric else ""
        return f"<{tag}{attributes}>{escape(value)}</{tag}>"

    head = "".join(cell("th", h) for h in header)
    body = "\n".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
