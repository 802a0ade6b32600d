"""Fresh installs for the deployment tests: a wheel built from the repository, a virtual
environment laid out like a real `pip install`, and subprocess helpers that run the
installed `dlcourse` from a folder outside the checkout.

The environment reuses this interpreter's third-party packages (torch, sympy, ...) without
downloading them: each top-level entry of the system's site-packages is linked into the
venv's own site-packages, next to the installed dlcourse. That is the layout of a
course server or a Gradescope image, where dlcourse, torch and torch's lazily imported
dependencies sit in ONE site-packages folder. (`venv --system-site-packages` would keep
them in a second folder, and so hide a worker that strips the grader's own site-packages
from `sys.path`.) The editable dlcourse of this checkout is left out, so nothing the
tests run can import the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.submissions import ROOT

# a checkout's build leftovers and the editable install's own files never travel
COPY_LEFT_OUT = {".git", "build", "dist", "__pycache__", ".hypothesis", ".dlcourse", ".venv", ".pytest_cache", "tests", "benchmarks"}
SITE_LEFT_OUT = ("__editable__", "dlcourse", "_dlcourse", "solutions", "exercises", "grader", "pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "pkg_resources")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith("DLCOURSE_")}
    return env | extra


def run(args: list[str], cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout)


def copy_sources(src: Path, dest: Path) -> Path:
    """The project's files, without build leftovers, so that building never writes into
    the checkout other helpers work in."""
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in COPY_LEFT_OUT or n.endswith(".egg-info")])
    return dest


def build_wheel(project: Path, outdir: Path) -> Path:
    """`pip wheel` of a project folder (no network: the build backend is this interpreter's)."""
    proc = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
                "-q", "-w", outdir, project], cwd=outdir.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (wheel,) = outdir.glob("*.whl")
    return wheel


def make_venv(root: Path) -> Path:
    """A fresh venv whose site-packages holds links to this interpreter's third-party
    packages (see the module docstring); returns its python. It gets no pip of its own
    (bootstrapping one takes seconds): `install` runs this interpreter's pip for it."""
    proc = run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip())
    system = Path(sysconfig.get_paths()["purelib"])
    for entry in system.iterdir():
        if entry.name.startswith(SITE_LEFT_OUT) or (site / entry.name).exists():
            continue
        (site / entry.name).symlink_to(entry)
    return python


def install(python: Path, wheel: Path) -> None:
    """`pip install` of the wheel into the venv of `python` (pip's `--python`: this
    interpreter's pip, run by the venv's python, installs as the venv's own would)."""
    proc = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q", wheel],
               cwd=wheel.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def site_packages(python: Path) -> Path:
    return Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=python.parent).stdout.strip())
