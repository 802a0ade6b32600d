"""Languages: `--lang` and the locale choose the catalogue for every message, and every
Korean catalogue file holds exactly the keys (and placeholders) of its English twin."""

from __future__ import annotations

import json
import shutil
import string

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import messages
from tests.submissions import EXERCISES, write_submission

runner = CliRunner()
EN, KO = messages.LOCALES / "en", messages.LOCALES / "ko"
KO_FILES = sorted(KO.glob("*.json"))


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_english_file_has_a_korean_edition():
    assert sorted(p.name for p in EN.glob("*.json")) == [p.name for p in KO_FILES]


@pytest.mark.parametrize("ko_file", KO_FILES, ids=lambda p: p.name)
def test_every_korean_file_has_the_keys_and_placeholders_of_its_english_twin(ko_file):
    en_file = EN / ko_file.name
    assert en_file.is_file(), f"{ko_file.name} has no English original"
    en, ko = (json.loads(f.read_text(encoding="utf-8")) for f in (en_file, ko_file))
    assert sorted(set(en) - set(ko)) == [], "keys missing from the Korean file"
    assert sorted(set(ko) - set(en)) == [], "keys only in the Korean file"
    assert {k: fields(ko[k]) for k in en if fields(ko[k]) != fields(en[k])} == {}, "placeholders differ"


def test_every_selfstudy_key_used_in_the_code_is_in_the_catalogue():
    import re
    from pathlib import Path

    code = "\n".join(p.read_text(encoding="utf-8") for p in Path(messages.__file__).parents[1].glob("dlcourse_cli/**/*.py"))
    used = set(re.findall(r"selfstudy\.[a-z_]*[a-z](?![a-z_{])", code))
    # keys built from a prefix and a name
    used |= {f"selfstudy.history_{k}" for k in ("corrupt", "old")}
    used |= {f"selfstudy.state_{s}" for s in ("passed", "partial", "not_started")}
    used |= {f"selfstudy.col_{c}" for c in ("chapter", "exercises", "points", "bar", "time", "first_pass", "latest_pass",
                                            "next", "passed", "partial", "not_started", "exercise", "title", "state",
                                            "attempts", "hints")}
    assert sorted(used - set(messages.catalogue("en"))) == []


def test_every_mistake_in_the_catalogue_can_be_named():
    """A mistake's message is worth keeping only if a check raises its key or a
    `@mistake` registers it: a dead entry is a diagnosis no student will ever get
    (30 were left behind when the stability rule and the generic in-place and shape
    messages replaced them)."""
    import re
    from pathlib import Path

    root = Path(messages.__file__).parents[1]
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("grader", "solutions") for p in (root / d).rglob("*.py"))
    quoted = set(re.findall(r"[\"']([A-Za-z0-9_.]+)[\"']", code))
    keys = [k for k in messages.catalogue("en") if k.startswith("mistake.")]
    assert len(keys) > 300
    assert sorted(k for k in keys if k not in quoted and k.removeprefix("mistake.") not in quoted) == []


@pytest.fixture
def fake_korean(tmp_path, monkeypatch):
    """A locales folder with the English catalogue and a small Korean one."""
    root = tmp_path / "locales"
    shutil.copytree(EN, root / "en")
    (root / "ko").mkdir()
    (root / "ko" / "cli.json").write_text(json.dumps({
        "cli.col_exercise": "연습문제", "selfstudy.col_chapter": "장", "status.not_started": "시작 전",
        "student.not_started": "아직 시작하지 않았습니다 ({file}, {line}행).",
    }, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(messages, "LOCALES", root)
    monkeypatch.delenv("DLCOURSE_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    messages.catalogue.cache_clear()
    yield
    messages.catalogue.cache_clear()


def test_lang_option_reaches_the_commands(fake_korean, tmp_path):
    result = runner.invoke(app, ["--lang", "ko", "progress", "--path", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0 and "장" in result.stdout
    english = runner.invoke(app, ["--lang", "en", "progress", "--path", str(tmp_path)], catch_exceptions=False)
    assert "장" not in english.stdout and "chapter" in english.stdout


def test_locale_gives_the_default_and_lang_overrides_it(fake_korean, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert messages.current_lang() == "ko"
    assert "장" in runner.invoke(app, ["progress", "--path", str(tmp_path)], catch_exceptions=False).stdout
    result = runner.invoke(app, ["--lang", "en", "progress", "--path", str(tmp_path)], catch_exceptions=False)
    assert "장" not in result.stdout


def test_an_unknown_language_is_a_usage_error():
    result = runner.invoke(app, ["--lang", "fr", "list"])
    assert result.exit_code == 2 and "fr" in result.stderr


@pytest.mark.slow
def test_lang_reaches_the_grader_messages(fake_korean, tmp_path):
    path = write_submission(tmp_path / "exercises", base=EXERCISES)
    result = runner.invoke(app, ["--lang", "ko", "check", "ch4.sgd_step", "--path", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 1
    [check] = json.loads(result.stdout)["exercises"][0]["checks"][:1]
    assert check["message"].startswith("아직 시작하지 않았습니다")
    table = runner.invoke(app, ["--lang", "ko", "check", "ch4.sgd_step", "--path", str(path)], catch_exceptions=False)
    assert "연습문제" in table.stdout and "시작 전" in table.stdout
