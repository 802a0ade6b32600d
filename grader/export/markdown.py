"""A Markdown summary of a grading run, fit for a CI job summary ($GITHUB_STEP_SUMMARY)
or a pull-request comment: the total, a table of exercises, then the failed checks'
messages in collapsible blocks. Hidden checks' messages never hold inputs.

Messages are student-influenced text: they pass through `grader.sanitize.clean` (no
control or ANSI characters, bounded) and sit in fenced code blocks, so they cannot
close the fence or draw Markdown of their own."""

from __future__ import annotations

from grader.messages import text
from grader.results import Report
from grader.sanitize import clean, name

MESSAGE_LIMIT = 4000
"""Characters of a check's message shown in its block."""

MARKS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏳", "banned_call": "⛔", "not_started": "⬜"}


def _cell(value: str) -> str:
    return name(value, 500).replace("|", "\\|")


def summary(report: Report) -> str:
    t = text
    lines = [
        f"## {t('instructor.md.title')}",
        "",
        t("instructor.summary", score=report.score, max_score=report.max_score, seed=report.seed, device=report.device),
        t("deploy.isolation", isolation=name(report.isolation)),
        "",
        f"| | {t('instructor.md.col_exercise')} | {t('instructor.md.col_points')} | {t('instructor.md.col_status')} |",
        "|---|---|---:|---|",
    ]
    for e in report.exercises:
        lines.append(f"| {MARKS.get(e.status, '?')} | `{e.id}` | {e.score:g} / {e.max_score:g} | {_cell(t(f'status.{e.status}'))} |")
    flagged = [e for e in report.exercises if e.integrity]
    if flagged:
        lines.append("")
        lines += [f"- {_cell(t('deploy.integrity', exercise=e.id, flags=', '.join(e.integrity)))}" for e in flagged]
    failed = [(e, c) for e in report.exercises for c in e.checks if c.status != "passed" and e.status != "not_started"]
    if failed:
        lines += ["", f"### {t('instructor.md.details')}", ""]
        for e, c in failed:
            lines += [
                "<details>",
                f"<summary>{_cell(t('instructor.md.check', exercise=e.id, check=c.name, status=t(f'status.{c.status}')))}</summary>",
                "",
                "```text",
                clean(c.message, MESSAGE_LIMIT).replace("```", "'''"),
                "```",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
