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


# --- progress (dlcourse progress, report, watch, reset) ------------------------------

STATE_STYLES = {"passed": "green", "partial": "yellow", "not_started": "dim"}


def say(key: str, style: str = "", err: bool = False, **params: object) -> None:
    """Print one catalogue message for a person (stderr when `err`)."""
    console(stderr=err).print(Text(text(key, **params), style=style))


def duration(seconds: float) -> str:
    """`3900` -> "1 h 05 min", `125` -> "2 min", `12` -> "12 s", in the catalogue's words."""
    if seconds < 60:
        return text("selfstudy.duration_s", seconds=int(round(seconds)))
    minutes = int(round(seconds / 60))
    if minutes >= 60:
        return text("selfstudy.duration_hm", hours=minutes // 60, minutes=minutes % 60)
    return text("selfstudy.duration_m", minutes=minutes)


def when(t: float | None, date_only: bool = False) -> str:
    """A local date (and time), or a dash."""
    from datetime import datetime

    return datetime.fromtimestamp(t).strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M") if t else "–"


STATE_MARKS = {"passed": "✓", "partial": "~", "not_started": "·"}


def render_progress(progress, out: Console | None = None) -> None:
    """The per-chapter table of `dlcourse progress`, then totals and what to do next.
    A terminal narrower than 120 columns gets the table without the bar and the latest pass."""
    out = out or console()
    wide = out.width >= 120
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    columns = ["chapter", "exercises", "points"] + (["bar"] if wide else []) + ["time", "first_pass"] + (["latest_pass"] if wide else []) + ["next"]
    for key in columns:
        table.add_column(text(f"selfstudy.col_{key}"), justify="right" if key in ("points", "time") else "left", no_wrap=True)
    for c in progress.chapters:
        counts = Text()
        for state in ("passed", "partial", "not_started"):
            n = c.count(state)
            counts.append(f"{n}{STATE_MARKS[state]} ", style=STATE_STYLES[state] if n else "dim")
        done = c.count("passed") == len(c.exercises)
        cells = {
            "chapter": c.id,
            "exercises": counts,
            "points": f"{c.score:g}/{c.max_score:g}",
            "time": duration(c.time_spent) if c.time_spent else "–",
            "first_pass": when(c.first_pass, date_only=not wide),
            "latest_pass": when(c.latest_pass),
            "next": c.next or Text(text("selfstudy.chapter_done"), style="green"),
        }
        if wide:
            filled = round(10 * c.score / c.max_score) if c.max_score else 0
            cells["bar"] = Text("█" * filled, style="green" if done else "yellow") + Text("░" * (10 - filled), style="dim")
        table.add_row(*(cells[k] for k in columns))
    out.print(table)
    legend = "  ".join(f"{STATE_MARKS[s]} {text(f'selfstudy.state_{s}')}" for s in STATE_MARKS)
    out.print(Text(legend, style="dim"))
    out.print()
    passed = sum(e.state == "passed" for e in progress.exercises)
    out.print(text("selfstudy.total", score=progress.score, max_score=progress.max_score, passed=passed,
                   total=len(progress.exercises), time=duration(progress.time_spent)))
    if progress.next:
        from grader.messages import has

        title = text(f"title.{progress.next}") if has(f"title.{progress.next}") else ""
        out.print(Text(text("selfstudy.next", exercise=progress.next, title=title), style="bold"))
        out.print(Text(text("selfstudy.next_command", exercise=progress.next), style="dim"))
    else:
        out.print(Text(text("selfstudy.all_done"), style="green"))
