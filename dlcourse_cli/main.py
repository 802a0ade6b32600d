"""The `dlcourse` application: composes the command modules."""

from __future__ import annotations

import typer

from dlcourse_cli.commands import check, hint, listing

app = typer.Typer(
    name="dlcourse",
    help="Auto-graded exercises for Foundations of Deep Learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("check")(check.check)
app.command("list")(listing.list_exercises)
app.command("hint")(hint.hint)


def run() -> None:
    """Console-script entry point."""
    app()
