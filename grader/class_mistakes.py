"""What a whole class got wrong: how many graded submissions made each known mistake and
failed each check, from the per-student reports a batch keeps beside its gradebook.

Each check result names the catalogue key of the mistake it recognised
(`CheckResult.mistake`, `"mistakes"` per exercise in the JSON report). Counted over the
`ok` rows of a gradebook, they say what to re-teach:

    38% of the class (19/50): `ch4.linear_backward` — Your db is the expected one divided by N, ...

Two files sit beside the gradebook `grades.csv` (named after its stem, so the shards of
one class can share a folder):

- `grades-mistakes.csv`: one row per (exercise, mistake key) and per (exercise, check)
  failed by anyone: `exercise,kind,key,submissions,graded,fraction,without_mistake,message`
  (`kind` is `mistake` or `check`; `without_mistake`, for checks, counts the failures that
  named no mistake; `message` is the catalogue message's first sentence).
- `grades-mistakes.md`: the same, most common first, on one page.

The counts are rebuilt from every `ok` row and its report `grades-reports/<submission>.json`,
never from the submissions graded by one invocation, so they are right after a resume or
a merge of shards. A report is data: keys, ids and names that do not look like the
grader's are dropped and counted, a report without the `mistake` fields (written before
they existed) still counts its failed checks, and nothing a report says reaches the
output except validated keys and numbers (messages come from our own catalogue).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader import gradebook
from grader.gradebook import Status
from grader.messages import current_lang, has, text
from grader.sanitize import csv_cell, name

KEY = re.compile(r"^mistake\.[A-Za-z0-9_.]{1,200}$")
"""A mistake's catalogue key (`mistake.ch4.linear_backward.dW_transposed`)."""
EXERCISE = re.compile(r"^ch[0-9]{1,3}\.[A-Za-z0-9_]{1,100}$")
CHECK = re.compile(r"^[A-Za-z0-9_]{1,150}$")
FAILED = frozenset({"failed", "error", "timeout", "banned_call"})
"""Check statuses that count as a failure (not `not_started`: an exercise left alone)."""
MAX_REPORT_BYTES = 64 << 20
MAX_PER_REPORT = 2000
"""Exercises, checks or keys read from one report at most (a tampered file stays small)."""
SHORT_LIMIT = 200
"""Characters of a message's short form."""
MARKDOWN_LINES = 40
"""Known mistakes listed on the page; the rest are in the CSV."""
UNNAMED_SHARE = 0.1
"""A check failed without a named mistake is listed when at least this share of the class
(and at least one submission) failed it that way."""
COLUMNS = ["exercise", "kind", "key", "submissions", "graded", "fraction", "without_mistake", "message"]


@dataclass(frozen=True)
class Line:
    """One row of the class table."""

    exercise: str
    kind: str
    """"mistake" (key is a catalogue key) or "check" (key is the check's name)."""
    key: str
    submissions: int
    """Graded submissions that made this mistake, or failed this check."""
    graded: int
    """Graded submissions whose report holds this exercise: the denominator."""
    without_mistake: int = 0
    """Checks only: failures that named no mistake."""

    @property
    def fraction(self) -> float:
        return self.submissions / self.graded if self.graded else 0.0


@dataclass
class ClassMistakes:
    """The class table and what it was built from."""

    graded: int = 0
    """Graded (`ok`) submissions whose report was read."""
    lines: list[Line] = field(default_factory=list)
    """Mistakes and failed checks, most common first."""
    not_graded: int = 0
    """Gradebook rows with another status (no_files, error, timeout, ...): not counted."""
    unreadable: int = 0
    """`ok` rows whose report is missing or unreadable: not counted."""
    dropped: int = 0
    """Entries of the reports dropped as malformed (a key, an id or a name of the wrong form)."""

    @property
    def mistakes(self) -> list[Line]:
        return [line for line in self.lines if line.kind == "mistake"]

    @property
    def checks(self) -> list[Line]:
        return [line for line in self.lines if line.kind == "check"]


# --- counting -------------------------------------------------------------------------


def tally(reports: Iterable[object]) -> ClassMistakes:
    """Count mistakes and failed checks over graded submissions' JSON reports (dicts as
    `Report.to_dict` writes them; anything else is counted as unreadable).

        tally([{"exercises": [{"id": "ch4.linear_backward", "mistakes": ["mistake.ch4.linear_backward.db_mean"],
                               "checks": [{"name": "grads", "status": "failed", "mistake": "..."}]}]}])
        # -> 1 graded; ch4.linear_backward: db_mean 1/1, check grads failed 1/1
    """
    result = ClassMistakes()
    graded: Counter[str] = Counter()
    made: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    unnamed: Counter[tuple[str, str]] = Counter()
    for report in reports:
        exercises = report.get("exercises") if isinstance(report, dict) else None
        if not isinstance(exercises, list):
            result.unreadable += 1
            continue
        result.graded += 1
        seen: set[str] = set()
        for e in exercises[:MAX_PER_REPORT]:
            ex = e.get("id") if isinstance(e, dict) else None
            if not isinstance(ex, str) or not EXERCISE.match(ex) or ex in seen:
                result.dropped += 1
                continue
            seen.add(ex)
            graded[ex] += 1
            keys, dropped = _mistakes(e)
            result.dropped += dropped
            for key in keys:
                made[ex, key] += 1
            if e.get("status") == "not_started":
                continue
            checks = e.get("checks") if isinstance(e.get("checks"), list) else []
            counted: set[str] = set()
            for c in checks[:MAX_PER_REPORT]:
                check = c.get("name") if isinstance(c, dict) else None
                if not isinstance(check, str) or not CHECK.match(check):
                    result.dropped += 1
                    continue
                if c.get("status") not in FAILED or check in counted:
                    continue
                counted.add(check)
                failed[ex, check] += 1
                if not _valid_key(c.get("mistake")):
                    unnamed[ex, check] += 1
    result.lines = [Line(ex, "mistake", key, n, graded[ex]) for (ex, key), n in made.items()]
    result.lines += [Line(ex, "check", check, n, graded[ex], unnamed[ex, check]) for (ex, check), n in failed.items()]
    result.lines.sort(key=lambda line: (-line.fraction, -line.submissions, line.kind != "mistake", line.exercise, line.key))
    return result


def _valid_key(value: object) -> bool:
    return isinstance(value, str) and KEY.match(value) is not None


def _mistakes(exercise: dict) -> tuple[list[str], int]:
    """The distinct valid mistake keys of one exercise of a report (its "mistakes" list and
    its checks' "mistake" fields; both absent in an old report), and how many were dropped."""
    found: list[object] = []
    if isinstance(exercise.get("mistakes"), list):
        found += exercise["mistakes"][:MAX_PER_REPORT]
    if isinstance(exercise.get("checks"), list):
        found += [c.get("mistake") for c in exercise["checks"][:MAX_PER_REPORT] if isinstance(c, dict) and c.get("mistake")]
    keys = [k for k in found if _valid_key(k)]
    return list(dict.fromkeys(keys)), len(found) - len(keys)


def from_gradebook(path: Path) -> ClassMistakes:
    """The class table of the gradebook at `path`: its `ok` rows and their reports in
    `<stem>-reports/`. An empty table when there is no gradebook."""
    book = gradebook.read(Path(path))
    if book is None:
        return ClassMistakes()
    files = _report_files(gradebook.reports_dir(Path(path)))
    ok = [r for r in book.rows if r.get("status") == Status.OK.value]
    result = tally(_load(files.get(r.get("submission", ""))) for r in ok)
    result.not_graded = len(book.rows) - len(ok)
    return result


def _report_files(folder: Path) -> dict[str, Path]:
    """Report files by the submission's gradebook cell (`csv_cell` of its name, as the row holds it)."""
    if not folder.is_dir():
        return {}
    return {csv_cell(p.stem): p for p in folder.glob("*.json") if not p.name.startswith(".") and p.is_file() and not p.is_symlink()}


def _load(path: Path | None) -> object:
    """A report's JSON, or None when it is missing, too large or not JSON."""
    try:
        if path is None or path.stat().st_size > MAX_REPORT_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return None


# --- rendering ------------------------------------------------------------------------


def short_message(key: str, lang: str | None = None) -> str:
    """A mistake's catalogue message cut to its first sentence, its placeholders replaced
    by generic words ("{name} is all zeros, ..." -> "The answer is all zeros, ..."); empty
    for a key the catalogue does not have."""
    lang = lang or current_lang()
    if not _valid_key(key) or not has(key, lang):
        return ""
    answer = text("batch.mistakes.answer", lang)
    template = text(key, lang)  # no parameters: the template itself
    message = re.sub(r"\{(\w*)(?:![rsa])?(?::[^{}]*)?\}", lambda m: answer if m.group(1) == "name" else "…", template)
    first = re.split(r"(?<=[.!?])\s", message.strip(), maxsplit=1)[0]
    first = name(first, SHORT_LIMIT)
    if template.startswith("{"):  # "{name} is ..." -> "The answer is ..."; "db ..." stays
        first = first[:1].upper() + first[1:]
    return first


def to_csv(table: ClassMistakes, lang: str | None = None) -> str:
    """The class table as CSV text (every cell through `csv_cell`)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS)
    for line in table.lines:
        message = short_message(line.key, lang) if line.kind == "mistake" else ""
        without = str(line.without_mistake) if line.kind == "check" else ""
        out.writerow([csv_cell(v) for v in (line.exercise, line.kind, line.key, line.submissions, line.graded,
                                            f"{line.fraction:.4g}", without, message)])
    return buf.getvalue()


def _md(value: str) -> str:
    """Plain text in Markdown: one line, and every character Markdown or HTML reads escaped."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", name(value, 500))


def _share(count: int, graded: int, lang: str) -> str:
    """`38% of the class (19/50)`, the percentage rounded half up."""
    percent = math.floor(100 * count / graded + 0.5) if graded else 0
    return text("batch.mistakes.share", lang, percent=percent, count=count, graded=graded)


def to_markdown(table: ClassMistakes, gradebook_name: str, lang: str | None = None) -> str:
    """The one page an instructor reads: the denominator, then known mistakes most common
    first, then the checks many failed without a named mistake."""
    lang = lang or current_lang()
    t = lambda key, **kw: text(key, lang, **kw)  # noqa: E731
    lines = [f"# {t('batch.mistakes.title')}", "", t("batch.mistakes.graded", graded=table.graded, gradebook=_md(gradebook_name))]
    if table.not_graded:
        lines.append(t("batch.mistakes.not_graded", count=table.not_graded))
    if table.unreadable:
        lines.append(t("batch.mistakes.unreadable", count=table.unreadable))
    if table.dropped:
        lines.append(t("batch.mistakes.dropped", count=table.dropped))
    lines += ["", f"## {t('batch.mistakes.known')}", ""]
    mistakes = table.mistakes
    for line in mistakes[:MARKDOWN_LINES]:
        message = short_message(line.key, lang)
        said = f"{_md(message)} (`{line.key}`)" if message else f"`{line.key}`"
        lines.append(f"- **{_share(line.submissions, line.graded, lang)}**: `{line.exercise}` — {said}")
    if len(mistakes) > MARKDOWN_LINES:
        lines.append(f"- {t('batch.mistakes.more', count=len(mistakes) - MARKDOWN_LINES)}")
    if not mistakes:
        lines.append(t("batch.mistakes.none"))
    threshold = max(1, math.ceil(UNNAMED_SHARE * table.graded))
    unnamed = sorted((c for c in table.checks if c.without_mistake >= threshold),
                     key=lambda c: (-c.without_mistake, c.exercise, c.key))
    lines += ["", f"## {t('batch.mistakes.unnamed', percent=round(100 * UNNAMED_SHARE))}", ""]
    for c in unnamed[:MARKDOWN_LINES]:
        lines.append(f"- **{_share(c.without_mistake, c.graded, lang)}**: `{c.exercise}` / `{c.key}` — "
                     + t("batch.mistakes.check_line", failed=c.submissions, unnamed=c.without_mistake))
    if not unnamed:
        lines.append(t("batch.mistakes.none"))
    return "\n".join(lines) + "\n"


# --- files ----------------------------------------------------------------------------


def paths(gradebook_path: Path) -> tuple[Path, Path]:
    """The class table's CSV and Markdown files beside a gradebook: `<stem>-mistakes.csv|.md`."""
    p = Path(gradebook_path)
    return p.with_name(f"{p.stem}-mistakes.csv"), p.with_name(f"{p.stem}-mistakes.md")


def write(gradebook_path: Path, lang: str | None = None, bom: bool = False) -> tuple[Path, Path]:
    """Rebuild the class table of a gradebook and write its two files atomically."""
    table = from_gradebook(gradebook_path)
    csv_path, md_path = paths(gradebook_path)
    _replace(csv_path, (gradebook.BOM if bom else "") + to_csv(table, lang))
    _replace(md_path, to_markdown(table, Path(gradebook_path).name, lang))
    return csv_path, md_path


def _replace(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
