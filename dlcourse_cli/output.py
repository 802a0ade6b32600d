"""The output layer: commands hand it results; it renders a Rich view for people or JSON
for machines. With --json, standard output holds only JSON; hints and errors go to
standard error. Every word a student reads comes from the catalogue."""

from __future__ import annotations

import json
import re
import sys

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.messages import has, text

MARKS = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "error": ("!", "red"),
    "timeout": ("⧗", "yellow"),
    "banned_call": ("⊘", "magenta"),
    "not_started": ("·", "dim"),
}
SAME_MESSAGE_SHOWN = 3
"""Exercise ids named in the header of a message shared by several checks."""


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def mark(status: str) -> Text:
    symbol, style = MARKS.get(status, ("?", ""))
    return Text(symbol, style=style)


def counted(key: str, count: int, **params: object) -> str:
    """`key` with `count`, in the singular form `key_one` when count is 1 and the
    catalogue has one ("1 hidden check", "3 hidden checks")."""
    singular = f"{key}_one"
    return text(singular if count == 1 and has(singular) else key, count=count, **params)


def points_text(public: float, hidden: float) -> str:
    """`3` or `3 + 1`: the public points, then what hidden checks add."""
    return f"{public:g}" if not hidden else text("cli.points_split", public=public, hidden=hidden)


# --- wrapping that keeps formulas and `inline code` whole ------------------------------

_OPERATOR = re.compile(r"^[=+\-*/@<>%^|&!~:]+$")


def _glued(word: str, following: str, depth: int, in_code: bool) -> bool:
    """Whether the space between `word` and `following` must not become a line break:
    inside `code`, inside brackets, or beside an operator (`a - b`, `x = ...`)."""
    return in_code or depth > 0 or bool(_OPERATOR.match(word)) or bool(_OPERATOR.match(following))


def wrap(message: str, width: int) -> list[str]:
    """`message` broken into lines of at most `width` cells, at spaces that are not inside
    `inline code`, brackets or a formula; a formula longer than a line is broken at its
    spaces. Line breaks and indentation already in `message` are kept.

    >>> wrap("Use mean = (x_t - b) / sqrt(a) here", 28)
    ['Use', 'mean = (x_t - b) / sqrt(a)', 'here']
    """
    out: list[str] = []
    for line in message.split("\n"):
        indent = line[: len(line) - len(line.lstrip(" "))]
        words = line.split()
        if not words or cell_len(line) <= width:
            out.append(line.rstrip())
            continue
        # chunks: runs of words joined by spaces that must not break
        chunks, current, depth, in_code = [], [words[0]], 0, False
        for word, following in zip(words, words[1:] + [""]):
            depth = max(0, depth + sum(word.count(c) for c in "([{") - sum(word.count(c) for c in ")]}"))
            in_code ^= word.count("`") % 2 == 1
            if not following:
                break
            if _glued(word, following, depth, in_code):
                current.append(following)
            else:
                chunks.append(current)
                current = [following]
        chunks.append(current)
        room = max(8, width - cell_len(indent))
        lines: list[str] = []
        for chunk in chunks:
            joined = " ".join(chunk)
            pieces = [joined] if cell_len(joined) <= room else chunk
            for piece in pieces:
                if lines and cell_len(lines[-1]) + 1 + cell_len(piece) <= room:
                    lines[-1] += " " + piece
                else:
                    lines.append(piece)
        out += [indent + line for line in lines]
    return out


# --- check and grade -----------------------------------------------------------------


def _import_error(first_line: str) -> bool:
    """Whether a message's first line is the catalogue's "your file could not be imported"."""
    template = text("student.import_error").splitlines()[0]
    pattern = ".*?".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))
    return re.fullmatch(pattern, first_line) is not None


def _headline(c) -> tuple[str, str]:
    """What makes two failures the same: the status and the whole message, or only its
    first line for a module that could not be imported (each check adds its own example)."""
    first = c.message.split("\n", 1)[0]
    return (c.status, first) if c.status == "error" and _import_error(first) else (c.status, c.message)


def _common_lines(messages: list[str]) -> str:
    """The lines all `messages` start with."""
    split = [m.splitlines() for m in messages]
    shared = []
    for lines in zip(*split):
        if any(line != lines[0] for line in lines):
            break
        shared.append(lines[0])
    return "\n".join(shared)


def _message_groups(report) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The failed checks grouped by identical message, in order of first appearance:
    (status, message, [(exercise id, check name), ...]). A syntax error in a module fails
    every check of it with the same message; it is shown once."""
    groups: dict[tuple[str, str], list] = {}
    for e in report.exercises:
        if e.status == "not_started":
            continue
        for c in e.checks:
            if c.status != "passed":
                groups.setdefault(_headline(c), []).append((e.id, c))
    return [(status, _common_lines([c.message for _, c in found]) if len(found) > 1 else found[0][1].message,
             [(e, c.name) for e, c in found]) for (status, _), found in groups.items()]


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:SAME_MESSAGE_SHOWN])
    return shown if len(ids) <= SAME_MESSAGE_SHOWN else text("cli.and_more", names=shown, count=len(ids) - SAME_MESSAGE_SHOWN)


def render_report(report, targets: list[str], out: Console | None = None, *, command: str = "check",
                  elapsed: float | None = None) -> None:
    """The table of exercises, then the details of each failed check (a message shared by
    several checks once), then the score line and what hidden checks add.

    `command` is "check" (public checks only) or "grade" (public and hidden ones);
    `elapsed` is the wall time to show (default: since the process started when the
    command line runs, else the run's own duration)."""
    from dlcourse_cli.points import split

    out = out or console()
    graded = command == "grade"
    points = [f"{e.score:g}/{e.max_score:g}" for e in report.exercises]
    headers = [text(k) for k in ("cli.col_status", "cli.col_exercise", "cli.col_points", "cli.col_reason")]
    widths = [
        max([1, cell_len(headers[0])]),
        max([cell_len(e.id) for e in report.exercises] + [cell_len(headers[1])]),
        max([cell_len(p) for p in points] + [cell_len(headers[2])]),
    ]
    # the reason gets what is left of the line; the other columns always stay whole
    room = max(12, out.width - sum(widths) - 2 * 3)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for header, width, justify in zip(headers, widths, ("left", "left", "right")):
        table.add_column(header, no_wrap=True, justify=justify, min_width=width)
    table.add_column(headers[3], no_wrap=True, max_width=room, overflow="ellipsis")
    previous = None
    for e, p in zip(report.exercises, points):
        reason = e.reason.splitlines()[0] if e.reason and e.status != "not_started" else text(f"status.{e.status}")
        same = e.status == "error" and reason == previous and _import_error(reason)
        shown = text("cli.same_as_above") if same else reason
        previous = reason
        cell = Text(shown, no_wrap=True, overflow="ellipsis")
        cell.truncate(room, overflow="ellipsis")
        table.add_row(mark(e.status), e.id, p, cell)
    out.print(table)

    groups = _message_groups(report)
    if groups:
        out.print()
        out.rule(text("cli.details"), align="left")
        for status, message, where in groups:
            if len(where) == 1:
                title = text("cli.check_failed", exercise=where[0][0], check=where[0][1], status=text(f"status.{status}"))
            else:
                exercises = list(dict.fromkeys(e for e, _ in where))
                title = counted("cli.checks_failed_same", len(where), exercises=_names(exercises), status=text(f"status.{status}"))
            out.print(Text.assemble(mark(status), " ", (title, "bold")))
            out.print(escape(message), soft_wrap=True)
            out.print()

    if elapsed is None:
        from dlcourse_cli import clock

        elapsed = clock.elapsed()  # the command line's wait, start-up included
    duration = report.duration if elapsed is None else elapsed
    key = "cli.summary_graded" if graded else "cli.summary"
    out.print(text(key, score=report.score, max_score=report.max_score, seed=report.seed, device=report.device, duration=duration))
    by_id = split()
    hidden_points = sum(by_id[e.id].hidden for e in report.exercises if e.id in by_id)
    hidden_count = report.hidden_not_run
    if report.all_passed:
        if graded:
            out.print(Text(text("cli.all_passed_graded"), style="green"))
        elif hidden_count:
            out.print(Text(counted("cli.all_passed_hidden", hidden_count, points=hidden_points), style="green"))
        else:
            out.print(Text(text("cli.all_passed"), style="green"))
    else:
        if not graded and hidden_count:
            out.print(counted("cli.hidden_not_run", hidden_count, points=hidden_points))
        out.print(Text(text("cli.reproduce", command=command, targets=" ".join(targets), seed=report.seed), style="dim"))


# --- list and hint -------------------------------------------------------------------


def render_list(rows: list[dict], out: Console | None = None) -> None:
    """`dlcourse list`: one row per exercise, points as public + hidden."""
    out = out or console()
    table = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
    table.add_column(text("cli.col_last"), no_wrap=True)
    table.add_column(text("cli.col_exercise"), no_wrap=True, min_width=max(cell_len(r["id"]) for r in rows))
    table.add_column(text("cli.col_title"), overflow="fold")
    table.add_column(text("cli.col_points"), justify="right", no_wrap=True)
    for row in rows:
        table.add_row(mark(row["last_status"]) if row["last_status"] else "", row["id"], escape(row["title"]),
                      points_text(row["public_points"], row["hidden_points"]))
    out.print(table)
    public = sum(r["public_points"] for r in rows)
    hidden = sum(r["hidden_points"] for r in rows)
    out.print(Text(text("cli.list_points", public=public, hidden=hidden, total=public + hidden), style="dim"))


def render_hints(exercise_id: str, title: str, levels: list[str], shown: int, out: Console | None = None) -> None:
    """The first `shown` hint levels, wrapped without breaking a formula, then what next."""
    out = out or console()
    width = max(20, min(out.width, 100))
    for i in range(shown):
        out.print(Text(text("cli.hint_title", level=i + 1, total=len(levels), exercise=exercise_id, title=title), style="bold"))
        for line in wrap(levels[i], width):
            out.print(Text(line), soft_wrap=True)
        out.print()
    if shown < len(levels):
        out.print(Text(text("cli.more_hints", exercise=exercise_id, next=shown + 1), style="dim"))
    else:
        out.print(Text(text("cli.last_hint"), style="dim"))


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
    if progress.hidden_points:
        out.print(Text(text("selfstudy.hidden_points", points=progress.hidden_points), style="dim"))
    if progress.next:
        from grader.messages import has

        title = text(f"title.{progress.next}") if has(f"title.{progress.next}") else ""
        out.print(Text(text("selfstudy.next", exercise=progress.next, title=title), style="bold"))
        out.print(Text(text("selfstudy.next_command", exercise=progress.next), style="dim"))
    else:
        out.print(Text(text("selfstudy.all_done"), style="green"))
