"""The output layer: commands hand it results; it renders a Rich view for people or JSON
for machines. With --json, standard output holds only JSON; hints and errors go to
standard error."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.messages import text

MARKS = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "error": ("!", "red"),
    "timeout": ("⧗", "yellow"),
    "banned_call": ("⊘", "magenta"),
    "not_started": ("·", "dim"),
}


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def mark(status: str) -> Text:
    symbol, style = MARKS.get(status, ("?", ""))
    return Text(symbol, style=style)


def render_report(report, targets: list[str], out: Console | None = None) -> None:
    """The table of exercises, then the details of each failed check, then a summary."""
    out = out or console()
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    width = max((len(e.id) for e in report.exercises), default=10)
    points = [f"{e.score:g}/{e.max_score:g}" for e in report.exercises]
    points_width = max([len(p) for p in points] + [len(text("cli.col_points"))])
    room = max(20, out.width - width - points_width - 8)
    table.add_column(text("cli.col_status"), no_wrap=True)
    table.add_column(text("cli.col_exercise"), no_wrap=True)
    table.add_column(text("cli.col_points"), justify="right", no_wrap=True)
    table.add_column(text("cli.col_reason"), no_wrap=True)
    for e, p in zip(report.exercises, points):
        reason = e.reason.splitlines()[0] if e.reason and e.status != "not_started" else text(f"status.{e.status}")
        if len(reason) > room:
            reason = reason[: room - 1] + "…"
        table.add_row(mark(e.status), e.id, p, escape(reason))
    out.print(table)

    failed = [(e, c) for e in report.exercises for c in e.checks if c.status != "passed" and e.status != "not_started"]
    if failed:
        out.print()
        out.rule(text("cli.details"), align="left")
        for e, c in failed:
            out.print(Text.assemble(mark(c.status), " ", (text("cli.check_failed", exercise=e.id, check=c.name, status=text(f"status.{c.status}")), "bold")))
            out.print(escape(c.message), soft_wrap=True)
            out.print()
    out.print(text("cli.summary", score=report.score, max_score=report.max_score, seed=report.seed, device=report.device, duration=report.duration))
    if report.all_passed:
        key = "cli.all_passed_hidden" if report.hidden_not_run else "cli.all_passed"
        out.print(Text(text(key, count=report.hidden_not_run), style="green"))
    else:
        if report.hidden_not_run:
            out.print(text("cli.hidden_not_run", count=report.hidden_not_run))
        out.print(Text(text("cli.reproduce", targets=" ".join(targets), seed=report.seed), style="dim"))
