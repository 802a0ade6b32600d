"""`python -m dlcourse_cli`: the same as the `dlcourse` command (used by batch grading,
which starts one `grade` process per submission with the same interpreter)."""

from dlcourse_cli.main import run

run()
