"""The curriculum, the checks, the catalogue and the mutants agree with each other."""

from __future__ import annotations

import importlib
import re
from collections import Counter, defaultdict

import pytest

from grader import messages
from grader.curriculum import chapters, exercises
from grader.guard import resolve
from grader.runner import CHECKS
from tests.submissions import load_cases

CHAPTERS_WITH_CHECKS = [c for c in chapters() if (CHECKS / f"{c.modules[0]}.py").is_file()]


def _checks(chapter):
    module = importlib.import_module(f"grader.checks.{chapter.modules[0]}")
    for name, func in vars(module).items():
        if name.startswith("check_"):
            marks = [m for m in getattr(func, "pytestmark", []) if m.name == "dlcourse"]
            assert len(marks) == 1, f"{name} has no @exercise(...) mark"
            yield name, marks[0].kwargs, func


def test_every_chapter_of_the_curriculum_is_registered():
    assert [c.id for c in chapters()] == [f"ch{i}" for i in range(1, 12)]


@pytest.mark.parametrize("chapter", CHAPTERS_WITH_CHECKS, ids=lambda c: c.id)
def test_check_points_add_up_to_the_exercise_points(chapter):
    points = defaultdict(float)
    public = Counter()
    for _, mark, _ in _checks(chapter):
        points[mark["exercise"]] += mark["points"]
        public[mark["exercise"]] += mark["visibility"] == "public"
    for e in chapter.exercises:
        assert points[e.id] == e.points, f"{e.id}: checks give {points[e.id]} points, the curriculum {e.points}"
        assert public[e.id] >= 1, f"{e.id} has no public check"


@pytest.mark.parametrize("chapter", CHAPTERS_WITH_CHECKS, ids=lambda c: c.id)
def test_every_mistake_key_a_check_names_is_in_the_catalogue(chapter):
    source = (CHECKS / f"{chapter.modules[0]}.py").read_text()
    keys = set(re.findall(r'"(mistake\.[\w.]+)"', source))
    missing = sorted(k for k in keys if not messages.has(k, "en"))
    assert not missing


def test_every_key_the_engine_uses_is_in_the_catalogue():
    import grader

    root = grader.__path__[0]
    import pathlib

    used = set()
    for path in pathlib.Path(root).glob("*.py"):
        used |= set(re.findall(r'"((?:student|compare|mistake|detail|check|status|cli)\.[a-z_]+)"', path.read_text()))
    missing = sorted(k for k in used if not messages.has(k, "en"))
    assert not missing


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_every_exercise_has_a_title_and_two_hint_levels(exercise):
    assert messages.has(f"title.{exercise.id}", "en")
    assert len(messages.hints(exercise.id, "en")) >= 2


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_every_banned_name_resolves(exercise):
    for name in exercise.banned:
        assert resolve(name) is not None, name


def test_every_exercise_has_two_mutants_and_a_variant():
    cases = load_cases()
    mutants = Counter(c.exercise for c in cases if not c.correct)
    variants = Counter(c.exercise for c in cases if c.correct)
    for e in exercises():
        assert mutants[e.id] >= 2, f"{e.id} has {mutants[e.id]} mutants"
        assert variants[e.id] >= 1, f"{e.id} has no variant"
