"""`python -m grader grade`: grade one submission and write its report, with no CLI.

The engine's own entry point, used by `grader.batch` (one process per submission) and
by `grader.release` (one process per chapter it records), so the engine never shells out
to `dlcourse`:

    python -m grader grade ch4 --submission DIR --json report.json [--markdown report.md]
        [--seed N] [--timeout S] [--device D] [--isolation MODE] [--require-isolation]
        [--memory-budget MIB]

Public and hidden checks (`include_hidden=True`, profile "grade"). The JSON is
`Report.to_dict()`; the Markdown is `grader.export.markdown.summary`. Exit codes: 0 the
report was written (whatever the score), 2 usage error, 3 the grader failed.

    python -m grader record ch8 --out FOLDER

A chapter's release recording (`grader.release.record`), saved in FOLDER: exit 0 saved,
2 unknown chapter, 3 a public check fails on the references.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_USAGE, EXIT_INTERNAL = 0, 2, 3


def _parser() -> argparse.ArgumentParser:
    from grader import isolation

    parser = argparse.ArgumentParser(prog="python -m grader")
    verbs = parser.add_subparsers(dest="verb", required=True)
    grade = verbs.add_parser("grade", help="grade one submission (public and hidden checks)")
    grade.add_argument("targets", nargs="*", default=["all"], help="chapters, exercise ids or all")
    grade.add_argument("--submission", type=Path, required=True, help="a folder of chapter modules")
    grade.add_argument("--json", type=Path, required=True, dest="json_file", help="where to write the JSON report")
    grade.add_argument("--markdown", type=Path, help="where to write the Markdown feedback")
    grade.add_argument("--seed", type=int)
    grade.add_argument("--timeout", type=float, help="seconds one call of student code may take")
    grade.add_argument("--device", default="cpu")
    grade.add_argument("--isolation", default="auto", choices=isolation.CHOICES)
    grade.add_argument("--require-isolation", action="store_true")
    grade.add_argument("--memory-budget", type=float, help="MiB this grader and its worker may hold together (grader.memory)")
    record = verbs.add_parser("record", help="record a chapter's release data (grader.release.record)")
    record.add_argument("chapter", help="a chapter id")
    record.add_argument("--out", type=Path, required=True, help="a new folder for the recording")
    return parser


def _write(path: Path, content: str) -> None:
    """Write `content` atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def grade(args: argparse.Namespace) -> int:
    from grader import runner
    from grader.curriculum import UnknownTarget, resolve_targets
    from grader.export import markdown
    from grader.messages import text

    try:
        exercises = resolve_targets(args.targets or ["all"])
    except UnknownTarget as exc:
        print(text("cli.unknown_target", target=exc.target), file=sys.stderr)
        return EXIT_USAGE
    if not args.submission.is_dir():
        print(text("instructor.submission_missing", path=args.submission), file=sys.stderr)
        return EXIT_USAGE
    try:
        report = runner.run(
            exercises,
            path=args.submission,
            device=runner.resolve_device(args.device),
            seed=runner.DEFAULT_SEED if args.seed is None else args.seed,
            include_hidden=True,
            profile="grade",
            timeout=args.timeout,
            isolation=args.isolation,
            require_isolation=args.require_isolation,
            memory_budget=args.memory_budget,
        )
    except runner.GraderError as exc:
        print(text("cli.grader_error", detail=str(exc)), file=sys.stderr)
        return EXIT_INTERNAL
    _write(args.json_file, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        _write(args.markdown, markdown.summary(report))
    return EXIT_OK


def record(args: argparse.Namespace) -> int:
    """One chapter of `dlcourse release --jobs N` (`grader.release.record_chapters`)."""
    from grader import release, runner
    from grader.curriculum import chapter
    from grader.messages import text

    try:
        exercises = list(chapter(args.chapter).exercises)
    except KeyError:
        print(text("cli.unknown_target", target=args.chapter), file=sys.stderr)
        return EXIT_USAGE
    try:
        recorder = release.record(exercises)
    except release.ReleaseError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INTERNAL
    recorder.save(args.out, runner.DEFAULT_SEED, release.RECORD_PROFILE)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return record(args) if args.verb == "record" else grade(args)


if __name__ == "__main__":
    sys.exit(main())
