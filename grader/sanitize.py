"""Student-supplied text made safe to show: bounded, and stripped of control characters.

Anything a student's code can choose (printed output, exception messages, type and
function names, file names in a submission) is data. Before it reaches a terminal, JSON,
Markdown, JUnit XML, Gradescope or a CSV it passes through `clean`, so that an ANSI escape
cannot clear the screen and draw a fake table, and a control character cannot break XML.

    clean("\\x1b[2J\\x1b[Hall checks passed\\x07")  # -> "all checks passed"
    clean("x" * 10_000, limit=20)                   # -> "xxxxxxxxxxxxxxxxxxx…"
"""

from __future__ import annotations

import re

DEFAULT_LIMIT = 2000

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and the
# two-byte escapes; C1 control characters stand for the same (U+009B is a CSI).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated or not
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"   # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"                  # other two-byte escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"           # 8-bit CSI
)
# control characters other than newline and tab, C1 controls, and the characters that
# reorder or hide text (bidirectional overrides, zero-width marks), plus surrogates and
# non-characters that XML 1.0 does not allow
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff\ufffe\uffff]"
)


def clean(value: object, limit: int = DEFAULT_LIMIT, *, newlines: bool = True) -> str:
    """`value` as text of at most `limit` characters with escapes and control characters
    removed; a carriage return becomes a newline. With `newlines=False` line breaks and
    tabs become spaces too (one-line fields: CSV cells, names)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit + 1024:  # bound the work on huge input before the regexes run
        text = text[: 4 * limit + 1024]
    text = _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROLS.sub("", text)
    if not newlines:
        text = re.sub(r"[\n\t]+", " ", text)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def name(value: object, limit: int = 120) -> str:
    """A one-line name (a type, a function, a file): `clean` without line breaks."""
    return clean(value, limit, newlines=False)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object, limit: int = 2000) -> str:
    """A CSV cell that a spreadsheet never evaluates: one line, and a leading `=`, `+`,
    `-` or `@` is escaped with an apostrophe (OWASP's advice on formula injection).
    Plain numbers (`-1.5`) stay numbers."""
    text = clean(value, limit, newlines=False)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
