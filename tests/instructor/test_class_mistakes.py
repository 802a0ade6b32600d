"""What a whole class got wrong (`grader.class_mistakes`): counts, fractions and order on
synthetic reports, old reports without the mistake fields, tampered reports, rebuilding
on resume and on merge, and one `grade-batch` end to end."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import batch, class_mistakes, gradebook
from grader.class_mistakes import Line, short_message, tally, to_csv, to_markdown
from grader.curriculum import resolve_targets
from grader.gradebook import Row, Status
from tests.submissions import SOLUTIONS

runner = CliRunner()
EX = "ch4.linear_backward"
DB_MEAN = "mistake.ch4.linear_backward.db_mean"
TRANSPOSED = "mistake.transposed_shape"


def report(*exercises: dict) -> dict:
    return {"version": 1, "score": 0, "max_score": 4, "exercises": list(exercises)}


def exercise(*checks: tuple[str, str, str], ex: str = EX, status: str = "failed", old: bool = False) -> dict:
    """An exercise of a JSON report; checks are (name, status, mistake). `old`: written
    before reports had "mistakes" and "mistake"."""
    out = {"id": ex, "chapter": ex.split(".")[0], "score": 0, "max_score": 4, "status": status,
           "checks": [{"name": n, "status": s, "message": "", **({} if old else {"mistake": m})} for n, s, m in checks]}
    if not old:
        out["mistakes"] = list(dict.fromkeys(m for _, _, m in checks if m))
    return out


def passed() -> dict:
    return report(exercise(("grads", "passed", ""), ("grads_large", "passed", ""), status="passed"))


def db_mean() -> dict:
    return report(exercise(("grads", "failed", DB_MEAN), ("grads_large", "failed", DB_MEAN)))


def lines(table) -> dict[tuple[str, str], Line]:
    return {(line.kind, line.key): line for line in table.lines}


# --- counting ---------------------------------------------------------------------------


def test_counts_fractions_and_most_common_first():
    transposed = report(exercise(("grads", "failed", TRANSPOSED), ("grads_large", "failed", "")))
    table = tally([db_mean(), db_mean(), transposed, passed()])
    assert table.graded == 4
    got = lines(table)
    assert got["mistake", DB_MEAN].submissions == 2 and got["mistake", DB_MEAN].graded == 4
    assert got["mistake", DB_MEAN].fraction == 0.5
    assert got["mistake", TRANSPOSED].submissions == 1
    # a submission counts once per mistake, however many of its checks named it
    assert got["check", "grads"].submissions == 3 and got["check", "grads"].without_mistake == 0
    assert got["check", "grads_large"].submissions == 3 and got["check", "grads_large"].without_mistake == 1
    assert [m.key for m in table.mistakes] == [DB_MEAN, TRANSPOSED]
    assert [line.fraction for line in table.lines] == sorted((line.fraction for line in table.lines), reverse=True)


def test_not_started_exercises_count_in_the_class_but_fail_no_check():
    table = tally([report(exercise(("grads", "error", ""), status="not_started")), db_mean()])
    got = lines(table)
    assert got["check", "grads"].submissions == 1 and got["check", "grads"].graded == 2


def test_old_reports_without_the_mistake_fields_still_count_failed_checks():
    old = report(exercise(("grads", "failed", ""), ("grads_large", "passed", ""), old=True))
    table = tally([old, db_mean(), {"exercises": [{"id": EX}]}])  # the last: no checks at all
    got = lines(table)
    assert table.graded == 3 and table.unreadable == 0 and table.dropped == 0
    assert got["check", "grads"].submissions == 2 and got["check", "grads"].without_mistake == 1
    assert got["mistake", DB_MEAN].submissions == 1 and got["mistake", DB_MEAN].graded == 3


def test_a_tampered_report_is_data_its_bad_keys_dropped_never_shown():
    hostile = report(
        {"id": EX, "status": "failed", "mistakes": ["=cmd|' /C calc'!A0", "mistake.x\x1b[2J", "mistake.a|b", 7, DB_MEAN],
         "checks": [{"name": "grads", "status": "failed", "mistake": "mistake.<script>"},
                    {"name": "=HYPERLINK(\"x\")", "status": "failed"}, "not a check"]},
        {"id": "ch4.x|y`", "checks": []},
        {"id": "../../etc", "checks": []},
        "not an exercise",
    )
    table = tally([hostile, "a string", None, {"exercises": "no"}, {}])
    assert table.graded == 1 and table.unreadable == 4
    got = lines(table)
    assert set(got) == {("mistake", DB_MEAN), ("check", "grads")}
    assert got["check", "grads"].without_mistake == 1  # its mistake key was not a key
    assert table.dropped == 4 + 1 + 2 + 3  # 4 keys, 1 check mistake, 2 checks, 3 exercises
    rendered = to_csv(table, "en") + to_markdown(table, "book.csv", "en")
    for bad in ("cmd", "\x1b", "<script>", "HYPERLINK", "etc", "x|y"):
        assert bad not in rendered
    assert "malformed" in rendered


def test_keys_must_look_like_the_graders():
    assert class_mistakes.KEY.match("mistake.ch4.linear_backward.dW_transposed")
    for bad in ("mistake.", "mistakes.x", "mistake.a b", "mistake.a\nb", "mistake.a-b", "x.mistake.a", "mistake." + "a" * 300):
        assert not class_mistakes.KEY.match(bad), bad


# --- rendering --------------------------------------------------------------------------


def test_short_message_is_the_first_sentence_with_generic_placeholders():
    assert short_message(DB_MEAN, "en").startswith("Your db is the expected one divided by N")
    transposed = short_message(TRANSPOSED, "en")
    assert transposed == "The answer has shape …, expected …: it looks transposed."
    assert short_message("mistake.stability.log_of_underflow", "en").endswith("underflowed to 0.")
    assert short_message(DB_MEAN, "ko").startswith("db가")
    assert short_message("mistake.not.in.the.catalogue", "en") == ""
    assert short_message("=1+1", "en") == ""


def test_messages_are_escaped_for_markdown_and_csv(monkeypatch):
    real = class_mistakes.text

    def fake_text(key, lang=None, /, **params):  # a hostile catalogue entry
        if key == DB_MEAN:
            return "=1+2 | <img src=x onerror=alert(1)> **bold** [link](http://x)\nsecond line. Second sentence."
        return real(key, lang, **params)

    monkeypatch.setattr(class_mistakes, "text", fake_text)
    monkeypatch.setattr(class_mistakes, "has", lambda key, lang=None: True)
    table = tally([db_mean()])
    md = to_markdown(table, "book.csv", "en")
    line = next(x for x in md.splitlines() if DB_MEAN in x)
    assert not re.search(r"(?<!\\)[<>|*\[\]]", line.split("**: ", 1)[1]), line  # every one escaped
    assert "\\<img" in line and "\\*\\*bold" in line and "\\[link\\]" in line and "\\|" in line
    assert "Second sentence" not in md  # the first sentence only, on one line
    rows = list(csv.DictReader(to_csv(table, "en").splitlines()))
    message = next(r["message"] for r in rows if r["key"] == DB_MEAN)
    assert message.startswith("'=1+2") and "\n" not in message


def test_markdown_states_the_denominator_and_sorts_by_how_common():
    transposed = report(exercise(("grads", "failed", TRANSPOSED), ("grads_large", "failed", "")))
    md = to_markdown(tally([db_mean(), db_mean(), transposed, passed()]), "grades.csv", "en")
    assert "4 graded submissions" in md and "grades.csv" in md
    assert "- **50% of the class (2/4)**: `ch4.linear_backward` — Your db" in md
    assert md.index(DB_MEAN) < md.index(TRANSPOSED)
    assert "`ch4.linear_backward` / `grads_large`" in md  # failed without a named mistake
    ko = to_markdown(tally([db_mean()]), "grades.csv", "ko")
    assert "학급의 100% (1/1)" in ko


def test_an_empty_class_renders_without_dividing_by_zero():
    table = tally([])
    assert table.lines == [] and "0 graded" in to_markdown(table, "b.csv", "en")
    assert to_csv(table).splitlines() == [",".join(class_mistakes.COLUMNS)]


# --- from a gradebook: resume, merge, missing reports ------------------------------------

TARGET = "ch4.linear_forward"
EXERCISES = resolve_targets([TARGET])
COLUMNS = gradebook.columns(["ch4"], [TARGET])


def _fake_batch(monkeypatch, calls: list[str], reports: dict[str, dict]) -> None:
    """grade_one without grading: keeps the given report, as the real one does."""

    def grade_one(name, path, targets, timeout, extra_args=(), reports_dir=None, children=None, note=""):
        calls.append(name)
        if name not in reports:
            return Row(name, Status.NO_FILES, detail="boom")
        reports_dir.mkdir(parents=True, exist_ok=True)
        (reports_dir / f"{name}.json").write_text(json.dumps(reports[name]), encoding="utf-8")
        return Row(name, Status.OK, 0, 4, {TARGET: 0, "ch4": 0})

    monkeypatch.setattr(batch, "grade_one", grade_one)


def _mistakes_csv(book: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(class_mistakes.paths(book)[0], newline="", encoding="utf-8-sig") as f:
        return {(r["kind"], r["key"]): r for r in csv.DictReader(f)}


def _db_mean_on(ex: str) -> dict:
    return report(exercise(("grads", "failed", DB_MEAN), ex=ex))


def test_a_resumed_batch_counts_every_graded_submission_not_only_its_own(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    for n in ("ann", "ben", "cat", "dan"):
        (subs / n).mkdir(parents=True)
    out = tmp_path / "book.csv"
    # ann was graded by an earlier, interrupted run: her row and report are there already
    gradebook.write(out, COLUMNS, [dict(zip(COLUMNS, Row("ann", Status.OK, 0, 4, {TARGET: 0, "ch4": 0}).cells(COLUMNS)))])
    gradebook.reports_dir(out).mkdir()
    (gradebook.reports_dir(out) / "ann.json").write_text(json.dumps(_db_mean_on(TARGET)))
    calls: list[str] = []
    _fake_batch(monkeypatch, calls, {"ben": _db_mean_on(TARGET), "cat": passed_on(TARGET)})
    outcome = batch.grade_batch(subs, out, EXERCISES, [TARGET])
    assert sorted(calls) == ["ben", "cat", "dan"] and outcome.mistakes == class_mistakes.paths(out)
    rows = _mistakes_csv(out)
    assert rows["mistake", DB_MEAN]["submissions"] == "2" and rows["mistake", DB_MEAN]["graded"] == "3"
    assert rows["mistake", DB_MEAN]["fraction"] == "0.6667"
    md = class_mistakes.paths(out)[1].read_text(encoding="utf-8")
    assert "67% of the class (2/3)" in md and "1 row(s) with another status" in md
    # nothing left to grade: the table is rebuilt all the same
    calls.clear()
    (gradebook.reports_dir(out) / "cat.json").write_text(json.dumps(_db_mean_on(TARGET)))
    batch.grade_batch(subs, out, EXERCISES, [TARGET])
    assert calls == [] and _mistakes_csv(out)["mistake", DB_MEAN]["submissions"] == "3"


def test_a_shard_leaves_the_class_table_to_the_merge(tmp_path, monkeypatch):
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    _fake_batch(monkeypatch, [], {"ann": _db_mean_on(TARGET)})
    out = tmp_path / "shards" / "grades-1-of-1.csv"
    outcome = batch.grade_batch(tmp_path / "subs", out, EXERCISES, [TARGET], shard=(1, 1))
    assert outcome.mistakes is None and list(out.parent.glob("*mistakes*")) == []


def passed_on(ex: str) -> dict:
    return report(exercise(("grads", "passed", ""), ex=ex, status="passed"))


def test_merging_shards_builds_the_class_table_and_a_missing_report_is_stated(tmp_path):
    one, two = tmp_path / "s1.csv", tmp_path / "s2.csv"
    for shard, names in ((one, ("ann", "ben")), (two, ("cat", "dan"))):
        cells = [dict(zip(COLUMNS, Row(n, Status.OK, 0, 4, {TARGET: 0, "ch4": 0}).cells(COLUMNS))) for n in names]
        gradebook.write(shard, COLUMNS, cells)
        gradebook.reports_dir(shard).mkdir()
        for n in names[:1] if shard == two else names:  # dan's report is lost
            (gradebook.reports_dir(shard) / f"{n}.json").write_text(json.dumps(_db_mean_on(TARGET)))
    merged = tmp_path / "all.csv"
    result = runner.invoke(app, ["gradebook", "merge", str(merged), str(one), str(two)])
    assert result.exit_code == 0, result.output
    assert "all-mistakes.md" in "".join(result.stdout.split())  # rich may wrap a long path anywhere
    rows = _mistakes_csv(merged)
    assert rows["mistake", DB_MEAN]["submissions"] == rows["mistake", DB_MEAN]["graded"] == "3"
    assert "1 graded submission(s) have no readable report" in class_mistakes.paths(merged)[1].read_text(encoding="utf-8")
    # and `gradebook mistakes` rebuilds it from any gradebook
    class_mistakes.paths(merged)[0].unlink()
    again = runner.invoke(app, ["gradebook", "mistakes", str(merged)])
    assert again.exit_code == 0, again.output
    assert _mistakes_csv(merged) == rows
    assert runner.invoke(app, ["gradebook", "mistakes", str(tmp_path / "none.csv")]).exit_code == 2


# --- end to end -------------------------------------------------------------------------

CORRECT_DB = "db = dout_flat.sum(dim=0)"


@pytest.mark.slow
def test_grade_batch_writes_what_the_class_got_wrong(tmp_path):
    subs = tmp_path / "subs"
    for n in ("ann", "ben", "cat"):
        (subs / n).mkdir(parents=True)
        module = (SOLUTIONS / "ch4_backprop.py").read_text(encoding="utf-8")
        assert CORRECT_DB in module
        if n != "cat":  # ann and ben average db over the batch
            module = module.replace(CORRECT_DB, "db = dout_flat.mean(dim=0)")
        (subs / n / "ch4_backprop.py").write_text(module, encoding="utf-8")
    out = tmp_path / "book.csv"
    result = runner.invoke(app, ["grade-batch", str(subs), "--out", str(out), "--target", EX, "--jobs", "2", "--timeout", "120"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "book-mistakes.md" in "".join(result.stdout.split())  # rich may wrap a long path anywhere
    rows = _mistakes_csv(out)
    db = rows["mistake", DB_MEAN]
    assert (db["exercise"], db["submissions"], db["graded"], db["fraction"]) == (EX, "2", "3", "0.6667")
    assert db["message"].startswith("Your db is the expected one divided by N")
    md = class_mistakes.paths(out)[1].read_text(encoding="utf-8")
    assert f"67% of the class (2/3)**: `{EX}` — Your db" in md and DB_MEAN in md
