"""The message catalogue: every string a student reads, keyed by id.

Strings live in `grader/locales/<lang>/*.json` (one file for the engine, `core.json`,
and one per chapter for titles, hints and known mistakes), so that a Korean edition can
sit beside the English one. Code asks for `text("student.timeout", seconds=5)` and never
builds a student-facing sentence itself.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

LOCALES = Path(__file__).parent / "locales"
DEFAULT_LANG = "en"
LANGUAGES = ("en", "ko")
"""The languages a student may ask for (`--lang`); a missing translation falls back to English."""


def current_lang() -> str:
    """The language asked for by DLCOURSE_LANG, else the locale (`ko_KR.UTF-8` -> ko)."""
    for var in ("DLCOURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            lang = value.split("_")[0].split(".")[0].lower()
            if (LOCALES / lang).is_dir():
                return lang
            if var == "DLCOURSE_LANG":
                break
    return DEFAULT_LANG


def use_lang(lang: str) -> None:
    """Make `lang` the language of every later message of this process and of the processes
    it starts (the worker, the checks), by setting DLCOURSE_LANG."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    os.environ["DLCOURSE_LANG"] = lang


@lru_cache(maxsize=None)
def catalogue(lang: str = DEFAULT_LANG) -> dict[str, str]:
    """All keys of one language, merged from its JSON files (duplicate keys are an error)."""
    merged: dict[str, str] = {}
    folder = LOCALES / lang
    for path in sorted(folder.glob("*.json")):
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"message key {key!r} defined twice ({path.name})")
            merged[key] = value
    return merged


def has(key: str, lang: str | None = None) -> bool:
    return key in catalogue(lang or current_lang()) or key in catalogue(DEFAULT_LANG)


def text(key: str, lang: str | None = None, /, **params: object) -> str:
    """The message `key` in `lang` (falling back to English), formatted with `params`.

    A missing key returns the key itself, so a missing translation never crashes a run
    (a test asserts that every key exists in every language).
    """
    lang = lang or current_lang()
    template = catalogue(lang).get(key)
    if template is None:
        template = catalogue(DEFAULT_LANG).get(key, key)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def hints(exercise_id: str, lang: str | None = None) -> list[str]:
    """The hint levels of an exercise, in order (`hint.<id>.1`, `hint.<id>.2`, ...)."""
    out = []
    level = 1
    while has(f"hint.{exercise_id}.{level}", lang):
        out.append(text(f"hint.{exercise_id}.{level}", lang))
        level += 1
    return out
