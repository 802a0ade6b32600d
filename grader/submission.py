"""Where a submission keeps its exercise modules.

A submission is either a folder laid out like `exercises/` (`ch4_backprop.py`, ...) or a
student's workspace or repository holding such an `exercises/` folder.

    exercises_folder(Path("alice"))  # -> alice/exercises when alice/ holds no ch*_*.py
"""

from __future__ import annotations

from pathlib import Path


def exercises_folder(path: Path) -> Path:
    path = Path(path)
    if not any(path.glob("ch*_*.py")) and (path / "exercises").is_dir():
        return path / "exercises"
    return path
