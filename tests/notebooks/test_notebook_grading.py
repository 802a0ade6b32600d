"""Notebooks graded end to end: a chapter notebook run headless, and a notebook
submission graded like the same functions in a module."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import runner
from grader.curriculum import resolve_targets
from tests.notebooks.helpers import paste_references, reference_functions, reference_preamble

nbformat = pytest.importorskip("nbformat", reason="nbformat (a dependency of dlcourse) is not installed")

pytestmark = pytest.mark.slow

MODULE = "ch1_ml_basics"
CALL_TIMEOUT = 60


def test_the_chapter_notebook_with_the_references_pasted_in_gets_full_marks():
    nbclient = pytest.importorskip("nbclient", reason="nbclient (test extra) is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel (test extra) is not installed")
    from dlcourse_cli.notebooks import chapter_notebook

    nb = paste_references(chapter_notebook("ch1", MODULE), MODULE)
    for cell in nb.cells:  # a generous time per call: this machine may be loaded
        cell.source = cell.source.replace("device=DEVICE)", f"device=DEVICE, timeout={CALL_TIMEOUT})")
    nb.cells.append(nbformat.v4.new_code_cell(
        'import json\nprint("RESULT", json.dumps({e.id: [e.score, e.max_score] for e in report.exercises}))'))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    checks = [c for c in nb.cells if c.cell_type == "code" and "report = check(" in c.source]
    assert checks and all(any(o.output_type == "display_data" for o in c.outputs) for c in checks), "a check cell showed no table"
    line = next(o.text for o in nb.cells[-1].outputs if o.output_type == "stream" and "RESULT" in o.text)
    scores = json.loads(line.split("RESULT", 1)[1])
    assert set(scores) == {e.id for e in resolve_targets(["ch1"])}
    assert all(score == maximum > 0 for score, maximum in scores.values()), scores


def partial_submission():
    """ch1 with one function left as the stub, one wrong, one missing, the rest right."""
    refs = reference_functions(MODULE)
    functions = dict(refs)
    functions["pca"] = refs["pca"].split('"""', 2)[0] + '"""stub"""\n    raise NotImplementedError("ch1.pca")'
    functions["boltzmann"] = "def boltzmann(energies, temperature=1.0):\n    return torch.ones_like(energies) / energies.shape[-1]"
    del functions["kmeans"]
    return functions


def test_a_notebook_submission_grades_like_the_same_functions_in_a_module(tmp_path):
    functions = partial_submission()
    preamble = reference_preamble(MODULE)
    module_dir = tmp_path / "module"
    module_dir.mkdir()
    (module_dir / f"{MODULE}.py").write_text(preamble + "\n\n\n" + "\n\n\n".join(functions.values()) + "\n", encoding="utf-8")

    marker = tmp_path / "training-loop-ran"
    cells = [
        "!pip install nothing-at-all\n%matplotlib inline",
        preamble,
        *functions.values(),
        f"for epoch in range(3):\n    open({str(marker)!r}, 'w').write('ran')\nprint(softmax(torch.ones(3)))",
        "def kmeans(x, init_centroids, iters:\n    pass",  # does not parse: kmeans is missing, as in the module
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook = tmp_path / f"alice_{MODULE}.ipynb"
    nbformat.write(nb, str(notebook))

    by_module = runner.run(resolve_targets(["ch1"]), path=module_dir, device="cpu", seed=runner.DEFAULT_SEED, timeout=CALL_TIMEOUT)
    result = CliRunner().invoke(app, ["check", "ch1", "--path", str(notebook), "--json", "--timeout", str(CALL_TIMEOUT)])
    assert result.exit_code == 1, result.output
    by_notebook = json.loads(result.stdout)

    expected = {e.id: (e.score, e.status) for e in by_module.exercises}
    assert {e["id"]: (e["score"], e["status"]) for e in by_notebook["exercises"]} == expected
    assert expected["ch1.softmax"][0] > 0 and expected["ch1.pca"][0] == 0 and expected["ch1.kmeans"][0] == 0
    maxima = {e.id: e.max_score for e in by_module.exercises}
    assert expected["ch1.boltzmann"][0] < maxima["ch1.boltzmann"]
    assert not marker.exists(), "the notebook's training loop was executed"
    assert f"alice_{MODULE}.ipynb, cell {len(cells)}" in result.stderr  # the skipped cell is named


def test_check_refuses_a_file_that_is_not_a_notebook(tmp_path):
    bad = tmp_path / f"{MODULE}.ipynb"
    bad.write_text("{ nope")
    result = CliRunner().invoke(app, ["check", "ch1", "--path", str(bad)])
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
    other = tmp_path / "notes.txt"
    other.write_text("x")
    result = CliRunner().invoke(app, ["check", "ch1", "--path", str(other)])
    assert result.exit_code == 2 and "notes.txt" in result.stderr
