"""docs/curriculum.md is the exercise contract every clone carries: generated from the
registry, the stubs and `grader/curriculum/contract.py`, and in sync with them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.curriculum import exercises
from grader.curriculum import document

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "CURRICULUM.md"


def test_the_committed_contract_is_what_the_data_renders():
    assert (ROOT / "docs" / "curriculum.md").read_text(encoding="utf-8") == document.render(), (
        "docs/curriculum.md is stale: run python -m grader.curriculum.document --write"
    )


def test_every_exercise_has_its_signature_points_and_meaning_in_the_contract():
    text = document.render()
    for e in exercises():
        row = next(line for line in text.splitlines() if line.startswith(f"| {e.id} |"))
        assert f"`{e.name}(" in row and f"| {e.points} |" in row


def test_a_stub_that_drifts_from_the_registry_is_an_error(monkeypatch):
    real = document._stub_sources()
    broken = dict(real, ch4_backprop=real["ch4_backprop"].replace("def linear_backward(", "def linear_backwards("))
    monkeypatch.setattr(document, "_stub_sources", lambda: broken)
    with pytest.raises(document.ContractError, match="ch4.linear_backward"):
        document.render()


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "curriculum.md"
    stale.write_text("old\n")
    monkeypatch.setattr(document, "DOCUMENT", stale)
    assert document.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert document.main(["--write"]) == 0 and document.main(["--check"]) == 0


@pytest.mark.skipif(not SHARED.is_file(), reason="the course's shared CURRICULUM.md is not beside this checkout")
def test_ids_and_signatures_agree_with_the_courses_shared_contract():
    shared = dict(re.findall(r"^\| (ch\d+\.\w+) \| `(.*?)` \|", SHARED.read_text(encoding="utf-8"), flags=re.M))
    ours = document.signatures()
    assert set(shared) <= set(ours), set(shared) - set(ours)
    assert {k: ours[k] for k in shared} == shared
