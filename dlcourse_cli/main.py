"""The `dlcourse` application: composes the command modules of `dlcourse_cli.commands`.

Each command module defines `register(app)`; modules keep heavy imports (torch, pytest)
inside their command functions, so `--help`, `list` and `hint` stay instant.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated

import typer

from dlcourse_cli import commands
from grader.messages import LANGUAGES, text, use_lang

app = typer.Typer(
    name="dlcourse",
    help="Auto-graded exercises for Foundations of Deep Learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def main(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help=f"Language of every message: {' or '.join(LANGUAGES)} (default: from DLCOURSE_LANG, then the locale, e.g. LANG=ko_KR.UTF-8).", show_default=False),
    ] = None,
) -> None:
    """Auto-graded exercises for Foundations of Deep Learning."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise typer.BadParameter(text("selfstudy.bad_lang", lang=lang, languages=", ".join(LANGUAGES)), param_hint="--lang")
        # set early and in the environment, so the worker and the checks' plugin see it too
        use_lang(lang)


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def run() -> None:
    """Console-script entry point."""
    app()
