"""The similarity report as one self-contained HTML page: a summary by pair of
submissions, the ranked table of flagged pairs, and for the first pairs their two
functions side by side with the shared regions marked.

    write(report, Path("similarity.html"))

Everything a student chose (submission names, code) is cleaned with `grader.sanitize`
and escaped with `html.escape`; the page has no script and loads nothing.
"""

from __future__ import annotations

import html
from pathlib import Path

from grader import sanitize
from grader.messages import text
from grader.similarity import Match, SimilarityReport

MAX_ROWS = 1000
"""Rows of the ranking shown; the CSV holds them all."""
MAX_CODE = 20_000
"""Characters of one function shown (longer code is cut)."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; white-space: pre; }
mark { background: #ffd866; }
section { margin-top: 2rem; border-top: 1px solid #ddd; }
"""


def write(report: SimilarityReport, out: Path, lang: str | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report, lang), encoding="utf-8")


def render(report: SimilarityReport, lang: str | None = None) -> str:
    t = lambda key, **p: html.escape(text(key, lang, **p))  # noqa: E731 - local shorthand
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(lang or "en")}"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>{t('similarity.title')}</title><style>{STYLE}</style></head><body>",
        f"<h1>{t('similarity.title')}</h1>",
        f"<p>{t('similarity.intro', version=report.library)}</p>",
        f"<p>{t('similarity.summary', submissions=len(report.submissions), exercises=len(report.exercises), compared=report.compared, flagged=report.flagged, threshold=report.threshold)}</p>",
    ]
    if report.problems:
        parts.append("<ul>" + "".join(f"<li>{t('similarity.unreadable', submission=_name(s), detail=sanitize.name(d, 300))}</li>" for s, d in report.problems) + "</ul>")
    if not report.matches:
        parts.append(f"<p>{t('similarity.none_flagged')}</p></body></html>")
        return "\n".join(parts)
    parts.append(f"<h2>{t('similarity.by_pair')}</h2><table><tr><th>{t('similarity.col_first')}</th><th>{t('similarity.col_second')}</th>"
                 f"<th>{t('similarity.col_flagged')}</th><th>{t('similarity.col_mean')}</th></tr>")
    for a, b, count, mean in report.by_pair():
        parts.append(f'<tr><td>{_esc(a)}</td><td>{_esc(b)}</td><td class="num">{count}</td><td class="num">{mean:.0%}</td></tr>')
    parts.append("</table>")
    parts.append(f"<h2>{t('similarity.title')}</h2><table id=\"ranking\"><tr><th>{t('similarity.col_rank')}</th><th>{t('similarity.col_exercise')}</th>"
                 f"<th>{t('similarity.col_first')}</th><th>{t('similarity.col_second')}</th><th>{t('similarity.col_similarity')}</th>"
                 f"<th>{t('similarity.col_first_share')}</th><th>{t('similarity.col_second_share')}</th><th>{t('similarity.col_tokens')}</th></tr>")
    for rank, m in enumerate(report.matches[:MAX_ROWS], start=1):
        cell = f'<a href="#m{rank}">{rank}</a>' if m.first_regions or m.second_regions else str(rank)
        parts.append(f'<tr><td class="num">{cell}</td><td>{html.escape(m.exercise)}</td><td>{_esc(m.first)}</td><td>{_esc(m.second)}</td>'
                     f'<td class="num">{m.similarity:.0%}</td><td class="num">{m.first_share:.0%}</td><td class="num">{m.second_share:.0%}</td>'
                     f'<td class="num">{m.tokens}</td></tr>')
    parts.append("</table>")
    if len(report.matches) > MAX_ROWS:
        parts.append(f"<p>{t('similarity.more_in_csv', count=len(report.matches) - MAX_ROWS)}</p>")
    for rank, m in enumerate(report.matches[:MAX_ROWS], start=1):
        if m.first_regions or m.second_regions:
            parts.append(_section(rank, m))
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(rank: int, m: Match) -> str:
    return (f'<section id="m{rank}"><h3>{rank}. {html.escape(m.exercise)}: {_esc(m.first)} / {_esc(m.second)} ({m.similarity:.0%})</h3>'
            f'<div class="pair"><div><h4>{_esc(m.first)}</h4><pre>{_marked(m.first_source, m.first_regions)}</pre></div>'
            f'<div><h4>{_esc(m.second)}</h4><pre>{_marked(m.second_source, m.second_regions)}</pre></div></div></section>')


def _marked(source: str, regions: tuple[tuple[int, int], ...]) -> str:
    """`source` as escaped HTML with each shared region in <mark>; regions are cut into
    the text before it is cleaned, so that cleaning cannot shift them."""
    source = source[:MAX_CODE]
    out, at = [], 0
    for start, end in sorted(regions):
        start, end = max(start, at), min(end, len(source))
        if start >= end:
            continue
        out.append(_code(source[at:start]))
        out.append(f"<mark>{_code(source[start:end])}</mark>")
        at = end
    out.append(_code(source[at:]))
    return "".join(out)


def _code(piece: str) -> str:
    return html.escape(sanitize.clean(piece, limit=MAX_CODE))


def _esc(name: str) -> str:
    return html.escape(_name(name))


def _name(name: str) -> str:
    return sanitize.name(name)
