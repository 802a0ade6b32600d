"""A Markdown summary of a grading run, fit for a CI job summary ($GITHUB_STEP_SUMMARY)
or a pull-request comment: the total, a table of exercises, then the failed checks'
messages in collapsible blocks. Hidden checks' messages never hold inputs."""

from __future__ import annotations

from grader.messages import text
from grader.results import Report

MARKS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏳", "banned_call": "⛔", "not_started": "⬜"}


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def summary(report: Report) -> str:
    t = text
    lines = [
        f"## {t('instructor.md.title')}",
        "",
        t("instructor.summary", score=report.score, max_score=report.max_score, seed=report.seed, device=report.device),
        "",
        f"| | {t('instructor.md.col_exercise')} | {t('instructor.md.col_points')} | {t('instructor.md.col_status')} |",
        "|---|---|---:|---|",
    ]
    for e in report.exercises:
        lines.append(f"| {MARKS.get(e.status, '?')} | `{e.id}` | {e.score:g} / {e.max_score:g} | {_cell(t(f'status.{e.status}'))} |")
    failed = [(e, c) for e in report.exercises for c in e.checks if c.status != "passed" and e.status != "not_started"]
    if failed:
        lines += ["", f"### {t('instructor.md.details')}", ""]
        for e, c in failed:
            lines += [
                "<details>",
                f"<summary>{_cell(t('instructor.md.check', exercise=e.id, check=c.name, status=t(f'status.{c.status}')))}</summary>",
                "",
                "```text",
                c.message.replace("```", "'''"),
                "```",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
