"""docs/adding-an-exercise.md, followed to the letter on a copy of the project.

A small exercise (`ch11.l2_normalize`) is added by editing exactly the files the recipe
lists, nothing else. Then, in that copy, the project's own consistency tests pass (the
registry's points, the catalogue in both languages, stub and reference sharing their
contract, the generated contract document) and the grader gives the reference full
marks, the stub "not started", and a known mistake its catalogue key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "adding-an-exercise.md"
COPIED = ("grader", "solutions", "exercises", "dlcourse_cli", "tests", "docs", "pyproject.toml")

STUB_AND_REFERENCE_HEAD = '''

def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each row of `x` (any leading dims, features last) divided by its L2 norm.

        out = x / max(||x||_2, eps)         norm over the last dim

    l2_normalize(tensor([[3., 4.]])) -> tensor([[0.6, 0.8]]).
    """
'''
REFERENCE_BODY = "    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(eps)\n"
STUB_BODY = (
    "    # TODO: implement ch11.l2_normalize (hint: `dlcourse hint ch11.l2_normalize`).\n"
    '    raise NotImplementedError("ch11.l2_normalize")\n'
)
MISTAKE = '''

@mistake("ch11.l2_normalize.squared_norm")
def l2_normalize(x, eps=1e-12):
    return x / (x * x).sum(dim=-1, keepdim=True).clamp_min(eps)
'''
SECOND_MISTAKE = '''

@mistake("ch11.l2_normalize.l1_norm")
def l2_normalize(x, eps=1e-12):
    return x / x.abs().sum(dim=-1, keepdim=True).clamp_min(eps)
'''
CHECK = '''
from grader.precision import truth  # noqa: E402 - the recipe's check brings what it uses


@exercise("ch11.l2_normalize", points=2)
@given(case=pairs())
def check_l2_normalize_matches_torch(student, ref, case):
    x, _ = case
    expect_close(student.l2_normalize(x), truth(lambda x: F.normalize(x, dim=-1), x), name="out", inputs=dict(x=x))
'''
CATALOGUE = {
    "en": {
        "title.ch11.l2_normalize": "L2-normalise rows",
        "hint.ch11.l2_normalize.1": "Divide each row by its length.",
        "hint.ch11.l2_normalize.2": "The length is the square root of the sum of squares over the last dim.",
        "mistake.ch11.l2_normalize.squared_norm": "You divided by the squared norm: take its square root.",
        "mistake.ch11.l2_normalize.l1_norm": "You divided by the sum of absolute values (the L1 norm), not the L2 norm.",
    },
    "ko": {
        "title.ch11.l2_normalize": "행 L2 정규화",
        "hint.ch11.l2_normalize.1": "각 행을 그 길이로 나누세요.",
        "hint.ch11.l2_normalize.2": "길이는 마지막 차원에 대한 제곱합의 제곱근입니다.",
        "mistake.ch11.l2_normalize.squared_norm": "노름의 제곱으로 나누었습니다. 제곱근을 취하세요.",
        "mistake.ch11.l2_normalize.l1_norm": "절댓값의 합(L1 노름)으로 나누었습니다. L2 노름을 쓰세요.",
    },
}


def _recipe_files() -> set[str]:
    """The files the recipe's table names, with chN/topic filled in for chapter 11."""
    names = re.findall(r"^\| `([^`]+)` \|", RECIPE.read_text(encoding="utf-8"), flags=re.M)
    return {n.replace("chN_topic", "ch11_clip").replace("chN", "ch11") for n in names}


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _follow_the_recipe(root: Path) -> set[str]:
    """Make every edit the recipe asks for; return the files edited."""
    edited = set()

    def edit(name: str, change) -> None:
        change(root / name)
        edited.add(name)

    edit("solutions/ch11_clip.py", lambda p: _append(p, STUB_AND_REFERENCE_HEAD + REFERENCE_BODY))
    edit("exercises/ch11_clip.py", lambda p: _append(p, STUB_AND_REFERENCE_HEAD + STUB_BODY))
    edit(
        "grader/curriculum/ch11.py",
        lambda p: p.write_text(
            p.read_text(encoding="utf-8").replace(
                "    exercises=(\n", '    exercises=(\n        Exercise("l2_normalize", points=2),\n', 1
            ),
            encoding="utf-8",
        ),
    )
    for lang, entries in CATALOGUE.items():

        def add(p: Path, entries=entries) -> None:
            catalogue = json.loads(p.read_text(encoding="utf-8"))
            p.write_text(json.dumps(catalogue | entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

        edit(f"grader/locales/{lang}/ch11.json", add)
    edit("grader/checks/ch11_clip.py", lambda p: _append(p, CHECK))
    edit("solutions/mistakes/ch11_clip.py", _add_mistake)
    edit(
        "grader/curriculum/contract.py",
        lambda p: _append(p, '\nSEMANTICS["ch11.l2_normalize"] = "each row divided by max(its L2 norm, eps), last dim."\n'),
    )
    edit("tests/mutants/ch11_mutants.py", _add_variant)
    edit("tests/solutions/test_ch11_reference.py", _add_reference_test)
    subprocess.run([sys.executable, "-m", "grader.curriculum.document", "--write"], cwd=root, env=_env(root), check=True)
    edited.add("docs/curriculum.md")
    return edited


def _add_mistake(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if "import mistake" not in text:
        text = text.replace("\nimport torch\n", "\nimport torch\n\nfrom solutions.mistakes import mistake\n", 1)
    path.write_text(text + MISTAKE + SECOND_MISTAKE, encoding="utf-8")


def _add_variant(path: Path) -> None:
    _append(
        path,
        '\n\n@variant("ch11.l2_normalize")\n'
        "def l2_normalize__by_rsqrt(x, eps=1e-12):\n"
        "    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True)).clamp_max(1 / eps)\n",
    )


def _add_reference_test(path: Path) -> None:
    _append(
        path,
        "\n\ndef test_l2_normalize_matches_torch():\n"
        "    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))\n"
        "    torch.testing.assert_close(ref.l2_normalize(x), F.normalize(x, dim=-1))\n",
    )


def _env(root: Path) -> dict:
    return os.environ | {"PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _grade(root: Path, submission: Path) -> dict:
    out = root / f"report-{submission.name}.json"
    subprocess.run(
        [sys.executable, "-m", "grader", "grade", "ch11.l2_normalize", "--submission", str(submission), "--json", str(out)],
        cwd=root, env=_env(root), capture_output=True, text=True, timeout=600,
    )
    return json.loads(out.read_text(encoding="utf-8"))["exercises"][0]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, set[str]]:
    root = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        (shutil.copytree(source, root / name, ignore=ignore) if source.is_dir() else shutil.copy(source, root / name))
    return root, _follow_the_recipe(root)


@pytest.mark.slow
def test_the_recipe_names_exactly_the_files_an_exercise_needs(project):
    _, edited = project
    assert edited == _recipe_files() | {"docs/curriculum.md"}


@pytest.mark.slow
def test_the_projects_consistency_tests_pass_on_the_new_exercise(project):
    root, _ = project
    tests = [
        "tests/grader/test_registry.py",
        "tests/solutions/test_contract.py",
        "tests/grader/test_curriculum_document.py",
        "tests/cli/test_lang.py",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=root, env=_env(root), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "l2_normalize" in (root / "docs" / "curriculum.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_grader_grades_the_new_exercise(project, tmp_path):
    root, _ = project
    reference = _grade(root, root / "solutions")
    assert reference["score"] == reference["max_score"] == 2.0, reference

    stub = _grade(root, root / "exercises")
    assert stub["status"] == "not_started", stub

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    text = (root / "solutions" / "ch11_clip.py").read_text(encoding="utf-8")
    (wrong / "ch11_clip.py").write_text(text.replace(REFERENCE_BODY, MISTAKE.split("\n", 4)[4]), encoding="utf-8")
    mistaken = _grade(root, wrong)
    assert mistaken["score"] < mistaken["max_score"], mistaken
    assert "mistake.ch11.l2_normalize.squared_norm" in mistaken.get("mistakes", []), mistaken
