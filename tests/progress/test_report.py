"""`dlcourse report`: a self-contained HTML page with three SVG charts (checked by
parsing, and by rendering in headless Chromium when it is installed) and a Markdown page."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from dlcourse_cli.report import CHART_IDS
from tests.progress.fixtures import SAMPLE, add_attempts

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """Collects tags, external references and the raw text of each <svg> element."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.html = html
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith(("#", "data:")):
                self.external.append(value)


def make_report(tmp_path, *args: str):
    path = tmp_path / "exercises"
    path.mkdir()
    add_attempts(path, SAMPLE)
    result = runner.invoke(app, ["report", "--path", str(path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    return result


def svgs(html: str) -> dict[str, ET.Element]:
    out = {}
    for raw in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        root = ET.fromstring(raw)  # well-formed XML, or this raises
        out[root.get("id")] = root
    return out


def test_html_report_is_self_contained_with_three_charts(tmp_path):
    page_file = tmp_path / "out" / "report.html"
    result = make_report(tmp_path, "--html", str(page_file))
    assert str(page_file) in result.stdout.replace("\n", "")
    html = page_file.read_text(encoding="utf-8")
    page = Page(html)
    assert page.tags.count("svg") == 3 and "script" not in page.tags and page.external == []
    charts = svgs(html)
    assert set(charts) == set(CHART_IDS)

    bars = {r.get("data-label"): r for r in charts["score-per-chapter"].iter(f"{SVG}rect") if r.get("class") == "bar"}
    assert len(bars) == 11  # every chapter
    assert (bars["ch4"].get("data-value"), bars["ch1"].get("data-value")) == ("3", "2")
    assert float(bars["ch4"].get("height")) > 0 and float(bars["ch2"].get("height")) == 0

    [line] = [p for p in charts["points-over-time"].iter(f"{SVG}polyline")]
    assert len(line.get("points").split()) == 2 * len(SAMPLE) - 1  # a step per check

    attempts = {r.get("data-label"): r.get("data-value") for r in charts["attempts-per-exercise"].iter(f"{SVG}rect") if r.get("class") == "hbar"}
    assert attempts == {"ch1.softmax": "1", "ch4.linear_forward": "1", "ch4.sgd_step": "2"}
    assert "Score per chapter" in html and "ch4.linear_forward" in html


def test_markdown_report_embeds_the_charts_as_data_images(tmp_path):
    md_file = tmp_path / "report.md"
    make_report(tmp_path, "--markdown", str(md_file))
    md = md_file.read_text(encoding="utf-8")
    images = re.findall(r"!\[([^\]]+)\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", md)
    assert [alt for alt, _ in images] == ["Score per chapter", "Points over time", "Attempts per exercise"]
    for _, data in images:
        assert ET.fromstring(base64.b64decode(data)).tag == f"{SVG}svg"
    assert "| ch4 " in md


def test_report_without_a_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["report", "--path", str(tmp_path)])
    assert result.exit_code == 2 and "--html" in result.stderr


def test_report_with_no_history_still_renders(tmp_path):
    page_file = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--html", str(page_file), "--path", str(tmp_path / "exercises")], catch_exceptions=False)
    assert result.exit_code == 0
    assert set(svgs(page_file.read_text(encoding="utf-8"))) == set(CHART_IDS)


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: the report is checked by parsing only")
def test_html_report_renders_in_headless_chromium(tmp_path):
    page_file = tmp_path / "report.html"
    make_report(tmp_path, "--html", str(page_file))
    png = tmp_path / "report.png"
    done = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1800",
         f"--screenshot={png}", page_file.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 1800)
    assert len(data) > 20_000  # a blank page compresses to a few kB
