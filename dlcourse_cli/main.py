"""The `dlcourse` application: composes the command modules of `dlcourse_cli.commands`.

Each command module defines `register(app)`; modules keep heavy imports (torch, pytest)
inside their command functions, so `--help`, `list` and `hint` stay instant.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from dlcourse_cli import commands

app = typer.Typer(
    name="dlcourse",
    help="Auto-graded exercises for Foundations of Deep Learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def run() -> None:
    """Console-script entry point."""
    app()
