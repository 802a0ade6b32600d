"""`grader.notebook`: a notebook read as a module, without running any of it."""

from __future__ import annotations

import ast
import json

import pytest

from grader import notebook
from grader.notebook import NotebookError, chapter_module, convert, module_folder, module_source


def write_nb(path, *cells, cell_type="code"):
    """A minimal format-4 notebook; each cell a string, or (cell_type, source)."""
    made = []
    for c in cells:
        kind, source = c if isinstance(c, tuple) else (cell_type, c)
        made.append({"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                     **({"outputs": [], "execution_count": None} if kind == "code" else {})})
    path.write_text(json.dumps({"cells": made, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def top_level(source):
    return [type(n).__name__ + ":" + getattr(n, "name", "") for n in ast.parse(source).body]


def test_keeps_definitions_imports_and_literals_only(tmp_path):
    nb = write_nb(
        tmp_path / "ch1_ml_basics.ipynb",
        "!pip install torch\n%matplotlib inline\nimport torch\nimport numpy as np; train_everything()",
        ("markdown", "# Softmax\nsome *maths*"),
        "EPS = 1e-6\nSIZES = (2, 3)\nmodel = build()\n\ndef softmax(x, dim=-1):\n    z = x - x.amax(dim, keepdim=True)\n    return z.exp() / z.exp().sum(dim, keepdim=True)\n",
        "for epoch in range(10):\n    raise SystemExit('the training loop ran')\nprint(softmax(torch.ones(3)))",
        "@staticmethod\ndef helper():\n    return EPS\n\nclass Net:\n    pass\n",
    )
    source = module_source(nb)
    assert top_level(source) == ["Import:", "Import:", "Assign:", "Assign:", "FunctionDef:softmax", "FunctionDef:helper", "ClassDef:Net"]
    assert "train_everything" not in source and "build()" not in source and "SystemExit" not in source
    assert "@staticmethod" in source
    namespace: dict = {}
    exec(compile(source, "nb", "exec"), namespace)  # the test's own notebook: safe to run
    assert namespace["softmax"](namespace["torch"].zeros(2)).tolist() == [0.5, 0.5]


def test_magics_inside_blocks_become_pass_and_cell_magics_are_handled(tmp_path):
    nb = write_nb(
        tmp_path / "ch1_ml_basics.ipynb",
        "def f():\n    !ls\n    files = !ls\n    return 1\n",
        "%%bash\necho not python\n",
        "%%time\ndef g():\n    return 2\n",
        "torch.tensor?\ndef h():\n    return 3\n",
    )
    namespace: dict = {}
    exec(compile(module_source(nb), "nb", "exec"), namespace)
    assert [namespace[n]() for n in "fgh"] == [1, 2, 3]


def test_a_cell_that_does_not_parse_is_skipped_and_recorded(tmp_path):
    nb = write_nb(tmp_path / "ch1_ml_basics.ipynb", "def ok():\n    return 1\n", "def broken(:\n    pass\n", "def also_ok():\n    return 2\n")
    conversion = convert(nb)
    assert top_level(conversion.source) == ["FunctionDef:ok", "FunctionDef:also_ok"]
    assert [(c.cell, c.line) for c in conversion.skipped] == [(2, 1)]


def test_a_valid_cell_is_never_rewritten(tmp_path):
    # lines that look like magics inside a string or brackets are Python: kept as they are
    cell = 'def f():\n    return """\n!not a shell line\n%not a magic\n"""\n'
    assert module_source(write_nb(tmp_path / "a.ipynb", cell)) == "# cell 1\n" + cell


def test_future_imports_are_hoisted_to_the_top(tmp_path):
    nb = write_nb(tmp_path / "a.ipynb", "import torch", "from __future__ import annotations\ndef f(x: Later):\n    return x\n")
    assert module_source(nb).startswith("from __future__ import annotations\n")
    compile(module_source(nb), "nb", "exec")


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b"{not json", "notebook.not_json"),
        (b"\xff\xfe\x00garbage", "notebook.not_json"),
        (b"[1, 2]", "notebook.not_notebook"),
        (b'{"cells": [{"cell_type": "code", "source": 7}]}', "notebook.not_notebook"),
        (b"[" * 100_000 + b"]" * 100_000, "notebook.not_json"),
    ],
)
def test_a_file_that_is_not_a_notebook_raises_a_catalogued_error(tmp_path, content, key):
    path = tmp_path / "ch1_ml_basics.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError) as info:
        module_source(path)
    assert info.value.key == key and isinstance(info.value, ValueError)
    assert "ch1_ml_basics.ipynb" in str(info.value)


def test_a_huge_file_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "MAX_BYTES", 1000)
    path = write_nb(tmp_path / "a.ipynb", "x = 1\n" * 500)
    with pytest.raises(NotebookError) as info:
        module_source(path)
    assert info.value.key == "notebook.too_large"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("ch4_backprop.ipynb", "ch4_backprop"),
        ("alice_ch4_backprop.ipynb", "ch4_backprop"),
        ("Copy of ch4_backprop.ipynb", "ch4_backprop"),
        ("ch4_backprop (1).ipynb", "ch4_backprop"),
        ("ch10_generative.ipynb", "ch10_generative"),
        ("ch4_backprop.py", None),
        ("backprop.ipynb", None),
        ("xch4_backprop.ipynb", None),
    ],
)
def test_the_file_name_tells_the_chapter_module(name, module):
    assert chapter_module(name) == module


def test_a_folder_of_notebooks_becomes_a_folder_of_modules(tmp_path):
    write_nb(tmp_path / "bob_ch1_ml_basics.ipynb", "def softmax(x):\n    return x\n", "def broken(:\n")
    write_nb(tmp_path / "scratch.ipynb", "def whatever():\n    pass\n")
    (tmp_path / "ch2_linear_models.py").write_text("def kept():\n    pass\n")
    write_nb(tmp_path / "ch2_linear_models.ipynb", "def from_the_notebook():\n    pass\n")  # the .py wins
    warnings = []
    with module_folder(tmp_path, warn=warnings.append) as folder:
        assert sorted(p.name for p in folder.iterdir()) == ["ch1_ml_basics.py", "ch2_linear_models.py"]
        assert "def softmax" in (folder / "ch1_ml_basics.py").read_text()
        assert (folder / "ch2_linear_models.py").read_text() == "def kept():\n    pass\n"
    assert not folder.exists()
    assert len(warnings) == 2 and "scratch.ipynb" in warnings[0] and "bob_ch1_ml_basics.ipynb" in warnings[1]


def test_two_notebooks_for_one_chapter_are_refused(tmp_path):
    write_nb(tmp_path / "ch1_ml_basics.ipynb", "x = 1")
    write_nb(tmp_path / "me_ch1_ml_basics.ipynb", "x = 2")
    with pytest.raises(NotebookError) as info, module_folder(tmp_path):
        pass
    assert info.value.key == "notebook.two_for_one"


def test_a_folder_without_notebooks_is_used_as_it_is(tmp_path):
    with module_folder(tmp_path) as folder:
        assert folder == tmp_path


def test_lines_are_counted_as_python_counts_them(tmp_path):
    # a form feed or a line separator inside a string is not a line break for Python
    cell = 'NOTE = "a\x0cb\u2028c"\ndef f():\n    return NOTE\nraise SystemExit("top-level code")\n'
    source = module_source(write_nb(tmp_path / "a.ipynb", cell))
    assert "SystemExit" not in source
    namespace: dict = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert namespace["f"]() == "a\x0cb\u2028c"


def test_a_cell_with_null_bytes_or_absurd_nesting_is_skipped(tmp_path):
    nb = write_nb(tmp_path / "a.ipynb", "x = 1\x00\n", "y = " + "(" * 10_000 + ")" * 10_000, "def ok():\n    return 1\n")
    conversion = convert(nb)
    assert [c.cell for c in conversion.skipped] == [1, 2]
    assert top_level(conversion.source) == ["FunctionDef:ok"]
