"""`dlcourse report --html FILE` / `--markdown FILE`: your progress as one self-contained
page with charts (score per chapter, points over time, attempts per exercise)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import UsageError
from dlcourse_cli.options import PathOption
from grader.messages import text


def report(
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML page (charts as inline SVG) to this file.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown page (charts as inline images) to this file.")] = None,
    path: PathOption = "exercises",
) -> None:
    """Write a progress report with charts that opens offline."""
    from dlcourse_cli import output, summary

    if html is None and markdown is None:
        raise UsageError(text("selfstudy.report_needs_file"))
    progress = summary.summarise(path)
    workspace = str(Path(path).resolve().parent)
    pages = []
    if html is not None:
        from dlcourse_cli.report.page import to_html

        pages.append((html, to_html(progress, workspace)))
    if markdown is not None:
        from dlcourse_cli.report.markdown import to_markdown

        pages.append((markdown, to_markdown(progress, workspace)))
    for file, content in pages:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise UsageError(text("selfstudy.report_unwritable", file=file, detail=exc.strerror or str(exc))) from None
    for file, _ in pages:
        output.say("selfstudy.report_written", file=file)


def register(app) -> None:
    app.command("report")(report)
