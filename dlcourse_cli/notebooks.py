"""Chapter notebooks for Jupyter and Colab, generated from the installed stubs, and the
`check` that their cells call.

    write_notebooks(Path("ws/notebooks"))   # -> [ws/notebooks/ch1_ml_basics.ipynb, ...]

One notebook per chapter module (`chN_<name>.ipynb`): a setup cell, the module's
imports, then for each exercise a Markdown cell (its docstring: maths, shapes, worked
example), the stub in a code cell, and a `check("chN.name")` cell. The notebook is
built with `nbformat` from the stubs the `exercises` package ships, so it works from the
student release too, and never by hand: regenerating gives the same file.

The setup cell installs dlcourse when it is missing, which is the case on Colab:
`%pip install -q "<install_url>"`. The default, `INSTALL_PLACEHOLDER`, is a placeholder:
a course that publishes its student release passes the wheel's address
(`dlcourse init DIR --notebooks --install-url https://.../dlcourse-0.1.0-py3-none-any.whl`).

`check` grades what the kernel has run: it rebuilds the chapter module from the cells
in the kernel's history (`In`) with `grader.notebook` (functions, classes, imports and
literal constants; never the rest, which is not run again) and calls
`dlcourse_cli.check` on it, so a notebook shows the same table as `dlcourse check`.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from grader.messages import text

INSTALL_PLACEHOLDER = "https://COURSE-WEBSITE.invalid/dlcourse-student.whl"
SETUP_MARKER = "# dlcourse setup"
"""First line of the setup cell; `check` leaves that cell out of the graded module."""


def write_notebooks(dest: Path, install_url: str = INSTALL_PLACEHOLDER, lang: str | None = None) -> list[Path]:
    """Write one notebook per chapter module into `dest`; the paths written."""
    import nbformat

    from grader.curriculum import chapters

    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for ch in chapters():
        for module in ch.modules:
            nb = chapter_notebook(ch.id, module, install_url, lang)
            path = dest / f"{module}.ipynb"
            nbformat.write(nb, str(path))
            written.append(path)
    return written


def chapter_notebook(chapter_id: str, module: str, install_url: str = INSTALL_PLACEHOLDER, lang: str | None = None):
    """The `nbformat.NotebookNode` of one chapter module, built from its stub."""
    import nbformat
    from nbformat import v4

    from dlcourse_cli.stubs import pristine_source
    from grader.curriculum import chapter

    source = pristine_source(module)  # the stubs `dlcourse init` copies
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    exercises = {e.name: e for e in chapter(chapter_id).exercises}
    preamble, stubs = [], {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            continue  # the module docstring becomes the title cell
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = "".join(lines[first - 1 : node.end_lineno]).rstrip()
        if isinstance(node, ast.FunctionDef) and node.name in exercises:
            stubs[node.name] = (segment, ast.get_docstring(node) or "")
        else:
            preamble.append(segment)

    cells = [
        v4.new_markdown_cell(f"# {module}\n\n{ast.get_docstring(tree) or ''}".rstrip()),
        v4.new_markdown_cell(text("notebooks.setup_title", lang, chapter=chapter_id)),
        v4.new_code_cell(setup_cell(install_url, lang)),
        v4.new_code_cell("\n".join(preamble)),
    ]
    for name, ex in exercises.items():
        if name not in stubs:
            continue  # an exercise of another module of this chapter
        segment, doc = stubs[name]
        cells.append(v4.new_markdown_cell(f"{text('notebooks.exercise_title', lang, exercise=ex.id, points=ex.points)}\n\n{doc}"))
        cells.append(v4.new_code_cell(segment))
        cells.append(v4.new_code_cell(f"# {text('notebooks.check_comment', lang, exercise=ex.id)}\nreport = check({ex.id!r}, device=DEVICE)"))
    cells.append(v4.new_markdown_cell(text("notebooks.chapter_title", lang)))
    cells.append(v4.new_code_cell(f"report = check({chapter_id!r}, device=DEVICE)"))
    for i, cell in enumerate(cells):
        cell["id"] = f"{module.replace('_', '-')}-{i:03d}"  # stable ids: the same stubs give the same file
    nb = v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "accelerator": "GPU",  # Colab offers a GPU runtime; `DEVICE` falls back to the CPU
    }
    nbformat.validate(nb)
    return nb


def setup_cell(install_url: str = INSTALL_PLACEHOLDER, lang: str | None = None) -> str:
    return "\n".join([
        f"{SETUP_MARKER}: {text('notebooks.setup_comment', lang)}",
        "import importlib.util",
        "",
        'if importlib.util.find_spec("dlcourse_cli") is None:',
        f"    %pip install -q {install_url!r}",
        "",
        "import torch",
        "",
        "from dlcourse_cli.notebooks import check",
        "",
        'DEVICE = "cuda" if torch.cuda.is_available() else "cpu"',
        f"print({text('notebooks.device_line', lang)!r}, DEVICE)",
    ])


def check(*targets: str, device: str = "cpu", **options):
    """`dlcourse_cli.check` on what this notebook's kernel has run: the chapter modules of
    `targets`, rebuilt from the cells in the kernel's history. Outside IPython it checks
    the `exercises` folder, as `dlcourse_cli.check` does. Returns the Report."""
    import dlcourse_cli

    history = _kernel_history()
    if history is None:
        return dlcourse_cli.check(*targets, device=device, **options)
    from grader.curriculum import chapter, resolve_targets
    from grader.notebook import convert_cells

    exercises = resolve_targets(list(targets) or ["all"])
    cells = [(n, src) for n, src in enumerate(history) if isinstance(src, str) and not src.lstrip().startswith(SETUP_MARKER)]
    module_source = convert_cells(cells).source
    options.setdefault("record", False)  # the folder is temporary: no progress to keep
    with tempfile.TemporaryDirectory(prefix="dlcourse-notebook-") as tmp:
        for ch in dict.fromkeys(e.chapter for e in exercises):
            for module in chapter(ch).modules:
                (Path(tmp) / f"{module}.py").write_text(module_source, encoding="utf-8")
        return dlcourse_cli.check(*targets, path=tmp, device=device, **options)


def _kernel_history() -> list[str] | None:
    """The sources of the cells this IPython kernel has run (`In`), or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    history = shell.user_ns.get("In")
    return list(history) if isinstance(history, list) else None
