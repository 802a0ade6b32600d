"""Fuzzing the command line and submission folders: whatever the arguments or the files,
a clear message and a defined exit code, never a traceback from the grader."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader.curriculum import resolve_targets
from grader.runner import run

runner = CliRunner()

WORDS = st.sampled_from(
    ["check", "list", "hint", "--json", "--path", "--device", "--seed", "--timeout", "--level",
     "ch4", "ch4.sgd_step", "all", "cuda", "cpu", "auto", "-1", "0", "1e9", "nan", "", "--", "-x"]
)
ARGUMENT = st.one_of(WORDS, st.text(max_size=12))


@pytest.fixture
def empty_cwd(tmp_path):
    """A working directory without an exercises folder, so no fuzzed call grades anything."""
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(ARGUMENT, max_size=6))
def test_any_arguments_give_a_defined_exit_code_and_no_traceback(empty_cwd, args):
    if args[:1] == ["check"] and "--path" in args:
        return  # a fuzzed --path might name a real folder; covered by the submission fuzzing below
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output


BROKEN_FILES = {
    "syntax_error": b"import torch\ndef sgd_step(w, dw, lr)\n    return w\n",
    "not_utf8": b"import torch\n# \xff\xfe caf\xe9\ndef sgd_step(w, dw, lr):\n    return w - lr * dw\n",
    "wrong_signature": b"import torch\ndef sgd_step(w):\n    return w\n",
    "not_a_function": b"sgd_step = 3\n",
    "a_class": b"class sgd_step:\n    def __init__(self, w, dw, lr):\n        pass\n",
    "empty": b"",
    "nul_bytes": b"def sgd_step(w, dw, lr):\n    return w\x00\n",
    "import_missing_module": b"import not_a_real_module\ndef sgd_step(w, dw, lr):\n    return w\n",
    "returns_string": b"def sgd_step(w, dw, lr):\n    return 'w - lr * dw'\n",
    "keyword_only": b"def sgd_step(*, w, dw, lr):\n    return w\n",
}


def _grade_file(folder, content: bytes, extra: dict[str, bytes] | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ch4_backprop.py").write_bytes(content)
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return run(resolve_targets(["ch4.sgd_step"]), path=folder, timeout=3.0).exercises[0]


def _assert_explained(result, may_pass: bool = False):
    if may_pass and result.status == "passed":
        return ""
    assert result.status in ("error", "failed", "not_started")
    assert result.score == 0
    messages = "\n".join(c.message for c in result.checks)
    assert messages.strip()
    assert "Traceback" not in messages and "grader/" not in messages and "site-packages" not in messages, messages
    return messages


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_broken_submission_files_are_explained(tmp_path, kind):
    # Python may accept stray bytes in a comment: then the function is simply correct
    messages = _assert_explained(_grade_file(tmp_path / "exercises", BROKEN_FILES[kind]), may_pass=kind == "not_utf8")
    if kind in ("syntax_error", "nul_bytes", "import_missing_module"):
        assert "could not be imported" in messages


@pytest.mark.slow
def test_modules_named_like_libraries_do_not_shadow_them(tmp_path):
    shadows = {"torch.py": b"raise SystemExit('shadowed torch')\n", "random.py": b"raise SystemExit('shadowed random')\n",
               "numpy.py": b"raise SystemExit('shadowed numpy')\n"}
    source = b"import torch\nimport random\ndef sgd_step(w, dw, lr):\n    return w - lr * dw\n"
    result = _grade_file(tmp_path / "exercises", source, shadows)
    assert result.status == "passed", [c.message for c in result.checks]


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=st.binary(max_size=300))
def test_random_bytes_as_a_submission_are_explained(tmp_path_factory, content):
    _assert_explained(_grade_file(tmp_path_factory.mktemp("fuzz") / "exercises", content))
