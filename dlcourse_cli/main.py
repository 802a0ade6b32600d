"""The `dlcourse` application: composes the command modules of `dlcourse_cli.commands`.

Each command module defines `register(app)`; modules keep heavy imports (torch, pytest)
inside their command functions, so `--help`, `list` and `hint` stay instant.

What every command shares lives here, once: `--lang` is accepted before the command and
after it (`dlcourse --lang ko check ch4`, `dlcourse check ch4 --lang ko`); exceptions
become messages in `errors.mapped_errors`; a flag shows no metavar in `--help`.
"""

from __future__ import annotations

import copy
import time
import importlib
import pkgutil
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from dlcourse_cli import clock, commands
from dlcourse_cli.errors import mapped_errors
from grader.messages import LANGUAGES, text, use_lang


def _use_lang(value: str | None) -> str | None:
    """Validate and apply `--lang`; set early and in the environment, so the worker and the
    checks' plugin see it too."""
    if value is not None:
        if value not in LANGUAGES:
            raise typer.BadParameter(text("selfstudy.bad_lang", lang=value, languages=", ".join(LANGUAGES)), param_hint="--lang")
        use_lang(value)
    return value


def _no_flag_metavar(params: list) -> list:
    """A flag takes no value, so `--help` shows no `<bool>` beside it."""
    for p in params:
        if getattr(p, "is_flag", False) and not getattr(p, "metavar", None):
            p.metavar = ""
    return params


class Command(TyperCommand):
    """Every `dlcourse` command: takes `--lang` too, maps exceptions to messages."""

    def get_params(self, ctx):
        if not any(p.name == "lang" for p in self.params):
            group = ctx.parent.command if ctx.parent is not None else None
            shared = next((p for p in getattr(group, "params", []) if p.name == "lang"), None)
            if shared is not None:
                own = copy.copy(shared)
                own.expose_value = False  # applied by its callback; the command never sees it
                self.params.append(own)
        return _no_flag_metavar(super().get_params(ctx))

    def invoke(self, ctx):
        with mapped_errors():
            return super().invoke(ctx)


class Group(TyperGroup):
    def get_params(self, ctx):
        return _no_flag_metavar(super().get_params(ctx))


app = typer.Typer(
    name="dlcourse",
    help="Auto-graded exercises for Foundations of Deep Learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)

LANG_HELP = f"Language of every message: {' or '.join(LANGUAGES)} (default: from DLCOURSE_LANG, then the locale, e.g. LANG=ko_KR.UTF-8)."


@app.callback()
def main(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help=LANG_HELP, show_default=False, is_eager=True, callback=_use_lang),
    ] = None,
) -> None:
    """Auto-graded exercises for Foundations of Deep Learning."""


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)
for _command in app.registered_commands:
    if _command.cls in (None, TyperCommand):
        _command.cls = Command


def run() -> None:
    """Console-script entry point."""
    clock.ENTRY = time.perf_counter()
    app()
