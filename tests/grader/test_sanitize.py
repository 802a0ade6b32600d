"""Student text made safe: escapes and control characters never reach an output, and
every piece is bounded (grader/sanitize.py). Torch-free: runs on every Python we claim."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from grader.sanitize import clean, csv_cell, name

FAKE_TABLE = "\x1b[2J\x1b[H\x1b[32m✓ all checks passed\x1b[0m 55/55\r\n\x1b]0;pwned\x07\x9b31m"


def test_escape_sequences_and_controls_are_removed():
    out = clean(FAKE_TABLE)
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out and "\r" not in out
    assert "all checks passed" in out  # the words stay visible, as data


def test_text_is_bounded_with_a_visible_cut():
    assert clean("x" * 10_000, limit=50) == "x" * 49 + "…"
    assert len(clean("y" * 10_000_000)) <= 2000


def test_names_are_one_line():
    assert name("Foo\nBar\tBaz") == "Foo Bar Baz"


def test_bidi_overrides_and_zero_width_characters_are_removed():
    assert clean("ab\u202ecd\u200bef") == "abcdef"


def test_csv_cells_never_start_a_formula_but_numbers_stay_numbers():
    for formula in ("=1+1", "+cmd", "-2+3 junk", "@SUM(A1)", "=HYPERLINK(\"http://x\")"):
        assert csv_cell(formula).startswith("'")
    assert csv_cell("-1.5") == "-1.5" and csv_cell("3") == "3"


@given(st.text(max_size=300))
def test_anything_cleaned_fits_xml_and_json_and_has_no_escape(text):
    out = clean(text)
    assert "\x1b" not in out
    ET.fromstring(f"<a>{out.replace('&', '&amp;').replace('<', '&lt;')}</a>")
    assert json.loads(json.dumps(out)) == out
