"""The student release as deployed: built with `dlcourse release` from the checkout (it
needs the references to record their outputs; once per session, `tests.graded`), made a
wheel, installed (not editable) in a fresh virtual environment, and run from outside the
checkout on an `init` workspace with the references copied in: full marks on every public check, exit 0. The installed release
holds no `solutions` package and no hidden check."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from grader import release
from tests.deployed import environments as envs
from tests.submissions import ROOT, SOLUTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory, student_release) -> Path:
    """The venv's bin folder, with the student release installed from its wheel. The
    release is the session's (`dlcourse release` of the checkout, `tests.graded`), copied:
    building the wheel writes into its folder."""
    root = tmp_path_factory.mktemp("release")
    built = shutil.copytree(student_release(), root / "dlcourse-student")
    wheels = root / "wheels"
    wheels.mkdir()
    wheel = envs.build_wheel(built, wheels)
    assert wheel.name.startswith("dlcourse_student-")
    python = envs.make_venv(root / "venv")
    envs.install(python, wheel)
    return python.parent


def test_the_installed_release_has_no_solutions_and_no_hidden_check(installed, tmp_path):
    site = envs.site_packages(installed / "python")
    assert not (site / "solutions").exists()
    proc = envs.run([installed / "python", "-c", "import solutions"], cwd=tmp_path, timeout=120)
    assert proc.returncode != 0 and "No module named 'solutions'" in proc.stderr
    checks = sorted((site / "grader" / "checks").glob("ch*.py"))
    assert len(checks) == len(list((ROOT / "grader" / "checks").glob("ch*.py")))
    for module in checks:
        assert release.hidden_counts(module.read_text(encoding="utf-8")) == {}, module.name
        assert "hidden=True" not in module.read_text(encoding="utf-8"), module.name
    assert not (site / "dlcourse_cli" / "commands" / "grade.py").exists()


def test_check_all_of_the_references_gives_full_marks_on_every_public_check(installed, tmp_path):
    proc = envs.run([installed / "dlcourse", "init", "ws"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for module in SOLUTIONS.glob("ch*.py"):
        shutil.copy(module, tmp_path / "ws" / "exercises" / module.name)
    proc = envs.run([installed / "dlcourse", "check", "all", "--json"], cwd=tmp_path / "ws", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    short = {e["id"]: (e["score"], e["max_score"], [c["message"][:300] for c in e["checks"] if c["status"] != "passed"][:1])
             for e in report["exercises"] if e["status"] != "passed"}
    assert not short, short
    from grader.curriculum import exercises

    assert {e["id"] for e in report["exercises"]} == {e.id for e in exercises()}
    assert report["score"] == report["max_score"] > 0
    assert report["hidden_not_run"] > 0
    assert all(c["visibility"] == "public" for e in report["exercises"] for c in e["checks"])


def test_the_installed_release_checks_a_chapter_against_its_recordings(installed, tmp_path):
    """Stubs are not started, the references get full marks with every `ref.*` call found
    among the recorded outputs and the chapter's hidden checks counted, and a mistake fails
    with its usual message (shrinking past the recorded inputs is harmless)."""
    proc = envs.run([installed / "dlcourse", "init", "ws"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    work = tmp_path / "ws"

    def check(*targets: str) -> tuple[int, dict]:
        proc = envs.run([installed / "dlcourse", "check", *targets, "--json"], cwd=work, timeout=300)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    code, report = check("ch4.linear_forward", "ch4.numerical_gradient")
    assert code == 1 and {e["status"] for e in report["exercises"]} == {"not_started"}
    shutil.copy(SOLUTIONS / "ch4_backprop.py", work / "exercises" / "ch4_backprop.py")
    code, report = check("ch4")
    assert code == 0, [(e["id"], e["checks"]) for e in report["exercises"] if e["status"] != "passed"]
    assert report["score"] == report["max_score"] > 0
    meta = json.loads((envs.site_packages(installed / "python") / "grader" / "recorded" / "meta.json").read_text())
    assert report["hidden_not_run"] == sum(n for e, n in meta["hidden"].items() if e.startswith("ch4.")) > 0
    with open(work / "exercises" / "ch4_backprop.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef linear_forward(x, W, b):\n    return x @ W\n")
    code, report = check("ch4.linear_forward")
    assert code == 1
    (exercise,) = report["exercises"]
    assert exercise["status"] == "failed" and "bias" in exercise["checks"][0]["message"]


class _Canonical(ast.NodeTransformer):
    """A function with its docstring, annotations and every name replaced by its order of
    first use: two functions that differ only in naming compare equal."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_FunctionDef(self, node):  # noqa: N802 - ast's naming
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        node.body, node.returns, node.decorator_list, node.name = body or [ast.Pass()], None, [], "f"
        self.generic_visit(node)
        return node

    def visit_arg(self, node):  # noqa: N802
        node.arg, node.annotation = self._rename(node.arg), None
        return node

    def visit_Name(self, node):  # noqa: N802
        node.id = self._rename(node.id)
        return node


def _shapes(source: str, min_statements: int = 3) -> dict[str, str]:
    """Canonical dumps of the functions of `source` that have some substance."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            statements = sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1
            if statements >= min_statements:
                out[ast.dump(_Canonical().visit(ast.parse(ast.unparse(node)).body[0]))] = node.name
    return out


def test_the_installed_release_holds_no_function_equivalent_to_a_reference_or_a_mistake(installed):
    """Issue 15: no helper that is a reference (or a known mistake) up to renaming ships;
    the release carries their outputs as recorded data only."""
    protected: dict[str, str] = {}
    for path in sorted(SOLUTIONS.glob("ch*.py")) + sorted((SOLUTIONS / "mistakes").glob("ch*.py")):
        mistakes = path.parent.name == "mistakes"
        for shape, name in _shapes(path.read_text(encoding="utf-8")).items():
            if not (mistakes and name.startswith("_")):  # a mistake module's small private helpers
                protected[shape] = f"{path.relative_to(SOLUTIONS.parent)}:{name}"
    assert len(protected) > 60  # the references have substance: the comparison is not empty
    site = envs.site_packages(installed / "python")
    leaks = []
    for package in ("grader", "dlcourse_cli"):
        for path in sorted((site / package).rglob("*.py")):
            for shape, name in _shapes(path.read_text(encoding="utf-8")).items():
                if shape in protected:
                    leaks.append(f"{path.relative_to(site)}:{name} == {protected[shape]}")
    assert not leaks, leaks


# check-side helpers that were the reference behind switch flags (issue 15): shipped in the
# release, copying them earned full marks; they now live in solutions/mistakes/. Helpers
# of the same names that only call torch's own kernels (`_rnn_cell` -> torch.rnn_tanh_cell) or `ref` may stay.
FORMER_LEAKS = {
    "ch1_ml_basics": ["_boltzmann", "_lloyd", "_eig"], "ch2_linear_models": ["_ridge", "_gd"],
    "ch3_svm": ["_kernel", "_poly", "_multiclass_autograd"], "ch4_backprop": ["_batch_norm", "_norm_backward", "_mlp_autograd"],
    "ch5_cnn": ["_dx_scatter", "_im2col_mistakes", "_maxpool_backward_mistakes", "_route", "_tie_mask", "_shared_max_mask"],
    "ch6_regularisation": ["_dropout", "_adamw_run", "_smoothed_ce", "_kfold"],
    "ch7_rnn": ["_lstm_step", "_lstm_backward", "_gru_step"],
    "ch8_transformers": ["_attention", "_mha", "_encoder", "_nt_xent"],
    "ch9_llm": ["_bpe_train", "_merge", "_encode_with", "_nucleus", "_rope", "_kv_truth"],
    "ch10_generative": [
        "_ddpm_formula", "_ddpm_truth", "_ddpm_mistakes", "_posterior", "_ddim_formula", "_ddim_truth", "_ddim_mistakes",
        "_q_sample_formula", "_q_sample_mistakes", "_kl_truth", "_kl_mistakes", "_vae_truth", "_vae_mistakes",
        "_affine_normal", "_reparameterize_mistakes", "_bce", "_discriminator_truth", "_discriminator_mistakes",
        "_generator_truth", "_generator_mistakes", "_linear_mistakes", "_cosine_closed_form", "_cosine_mistakes",
    ],
    "ch11_clip": ["_clip_truth"],
}


def test_the_installed_release_defines_none_of_the_former_reference_helpers(installed):
    site = envs.site_packages(installed / "python")
    shipped = []
    for module, names in FORMER_LEAKS.items():
        tree = ast.parse((site / "grader" / "checks" / f"{module}.py").read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        shipped += [f"{module}.{name}" for name in names if name in defined]
    assert not shipped, shipped
