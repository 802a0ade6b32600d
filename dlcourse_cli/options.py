"""Option aliases shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PathOption = Annotated[
    Path,
    typer.Option("--path", "-p", help="The folder with your exercise files.", show_default=True),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", "-d", help="cpu, cuda or auto (cuda when available)."),
]
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of the drawn inputs; the same seed reproduces a run."),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Write only JSON to standard output."),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds one call of your function may take (default 5)."),
]
MemoryBudgetOption = Annotated[
    float | None,
    typer.Option(
        "--memory-budget",
        min=0,
        help="MiB the grader and its worker may hold together (summed RSS): a fresh worker takes over at a chapter boundary before it is passed (default: DLCOURSE_MEMORY_BUDGET, else none).",
    ),
]
