"""Chapter notebooks are generated from the stubs: one source of truth."""

from __future__ import annotations

import ast

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader.curriculum import chapters

nbformat = pytest.importorskip("nbformat", reason="nbformat (a dependency of dlcourse) is not installed")

from dlcourse_cli.notebooks import INSTALL_PLACEHOLDER, SETUP_MARKER, chapter_notebook  # noqa: E402
from tests.notebooks.helpers import function_name  # noqa: E402
from tests.submissions import EXERCISES  # noqa: E402

CHAPTER_MODULES = [(c.id, m) for c in chapters() for m in c.modules]


def stub_functions(module):
    source = (EXERCISES / f"{module}.py").read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    return {n.name: "".join(lines[n.lineno - 1 : n.end_lineno]).rstrip() for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize(("chapter_id", "module"), CHAPTER_MODULES)
def test_each_exercise_has_its_docstring_its_stub_and_a_check_cell(chapter_id, module):
    nb = chapter_notebook(chapter_id, module)
    nbformat.validate(nb)
    stubs = stub_functions(module)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    exercises = [e for c in chapters() if c.id == chapter_id for e in c.exercises]
    in_notebook = {function_name(src): src for src in code if function_name(src)}
    for ex in exercises:
        assert in_notebook[ex.name] == stubs[ex.name], f"{ex.id}: the notebook's stub differs from exercises/{module}.py"
        assert ast.get_docstring(ast.parse(stubs[ex.name]).body[0]) in markdown
        assert any(f"check({ex.id!r}" in src for src in code), f"no check cell for {ex.id}"
    assert code[0].startswith(SETUP_MARKER) and f"%pip install -q {INSTALL_PLACEHOLDER!r}" in code[0]
    assert 'DEVICE = "cuda" if torch.cuda.is_available() else "cpu"' in code[0]


def test_generation_is_reproducible():
    first = nbformat.writes(chapter_notebook("ch4", "ch4_backprop"))
    assert nbformat.writes(chapter_notebook("ch4", "ch4_backprop")) == first


def test_init_writes_one_notebook_per_chapter_and_never_overwrites(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["init", str(tmp_path / "ws"), "--notebooks", "--install-url", "https://example.org/dl.whl"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "ws" / "notebooks").glob("*.ipynb"))
    assert written == sorted(f"{m}.ipynb" for _, m in CHAPTER_MODULES)
    nb = nbformat.read(str(tmp_path / "ws" / "notebooks" / "ch4_backprop.ipynb"), as_version=4)
    assert "https://example.org/dl.whl" in nb.cells[2].source
    mine = tmp_path / "ws2" / "notebooks" / "ch1_ml_basics.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text("my work")
    result = runner.invoke(app, ["init", str(tmp_path / "ws2"), "--notebooks"])
    assert result.exit_code == 2 and "ch1_ml_basics.ipynb" in result.stderr
    assert mine.read_text() == "my work" and not (tmp_path / "ws2" / "exercises").exists()


def test_init_without_the_option_writes_no_notebook(tmp_path):
    assert CliRunner().invoke(app, ["init", str(tmp_path)]).exit_code == 0
    assert not (tmp_path / "notebooks").exists()
