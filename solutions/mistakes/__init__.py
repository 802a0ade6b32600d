"""The reference side of known mistakes and of the truths checks compute with switches.

One module per chapter module (`solutions/mistakes/ch4_backprop.py` beside
`solutions/ch4_backprop.py`), holding two kinds of code:

- **Known mistakes**, realistic student code registered by its catalogue key (the key
  of `grader/locales/en/ch4.json` without the `mistake.` prefix; the exercise id is its
  first two parts). The function has the exercise function's name and signature:

      @mistake("ch4.linear_backward.db_mean")
      def linear_backward(dout, x, W):
          return dout @ W.T, x.T @ dout, dout.mean(dim=0)

  `grader.known` runs every registered mistake of an exercise on the inputs of a
  student call whose answer was wrong, and names the mistake whose output the answer
  matches; the mutant suite grades each one as a submission (`tests/mutants`).
- **Truths and mistake tables** a check compares against, plain functions reached
  through `ref` like the references (`ref.norm_backward_by_autograd(...)`).

Both run in the grader process only: a student release ships their recorded outputs
(`grader.replay`), never this code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mistake:
    """One registered mistake. Deliberately not callable: several mistakes of one
    exercise share the exercise function's name in their module, and `ref` (which looks
    module attributes up by name) must never take one for a reference."""

    key: str
    """The catalogue key without `mistake.`: `ch4.linear_backward.db_mean`."""
    func: Callable
    """The student code, named and shaped like the exercise function."""

    @property
    def exercise(self) -> str:
        """The exercise id, `ch4.linear_backward`."""
        return ".".join(self.key.split(".")[:2])

    @property
    def slug(self) -> str:
        """The mistake's own name, `db_mean`."""
        return self.key.split(".", 2)[2]


_REGISTRY: dict[str, dict[str, Mistake]] = {}


def mistake(key: str) -> Callable[[Callable], Mistake]:
    """Register `func` as the known mistake `mistake.<key>` of its exercise."""
    parts = key.split(".")
    if len(parts) < 3 or not all(parts):
        raise ValueError(f"a mistake key is <chapter>.<function>.<slug>, not {key!r}")

    def register(func: Callable) -> Mistake:
        if func.__name__ != parts[1]:
            raise ValueError(f"mistake {key}: the function must be named {parts[1]}, not {func.__name__}")
        entry = Mistake(key, _in_reference_namespace(func))
        _REGISTRY.setdefault(entry.exercise, {})[key] = entry
        return entry

    return register


def registered(exercise_id: str) -> dict[str, Callable]:
    """The known mistakes of one exercise, catalogue key (without `mistake.`) -> code,
    in the order they are written; importing the chapter's mistake modules on first use."""
    _load(exercise_id.split(".", 1)[0])
    return {key: entry.func for key, entry in _REGISTRY.get(exercise_id, {}).items()}


def entries(chapter: str | None = None) -> list[Mistake]:
    """Every registered mistake (of one chapter, `"ch4"`, when given)."""
    chapters = [chapter] if chapter else sorted({m.name.split("_", 1)[0] for m in pkgutil.iter_modules(__path__)})
    for c in chapters:
        _load(c)
    return [entry for ex, table in _REGISTRY.items() if chapter is None or ex.split(".", 1)[0] == chapter for entry in table.values()]


def source(entry: Mistake) -> str:
    """The mistake's code as a student would write it: undecorated, top-level."""
    lines = inspect.getsource(entry.func).splitlines()
    while lines and lines[0].lstrip().startswith("@"):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _in_reference_namespace(func: Callable) -> Callable:
    """`func` with the globals of its chapter's reference module (`solutions.ch4_backprop`
    for `solutions.mistakes.ch4_backprop`): it calls the chapter's other functions as the
    references define them, exactly as when appended to that module as a submission, and
    never the mistakes that share their names here."""
    prefix = f"{__name__}."
    if not func.__module__.startswith(prefix):
        return func
    module = importlib.import_module(f"solutions.{func.__module__.removeprefix(prefix)}")
    rebound = types.FunctionType(func.__code__, vars(module), func.__name__, func.__defaults__, func.__closure__)
    rebound.__kwdefaults__ = func.__kwdefaults__
    rebound.__doc__ = func.__doc__
    return rebound


def _load(chapter: str) -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(f"{chapter}_"):
            importlib.import_module(f"{__name__}.{info.name}")
