"""The `dlcourse` command line: Typer commands, one module per command group under
`dlcourse_cli.commands`, composed in `dlcourse_cli.main`. Rendering lives in
`dlcourse_cli.output`; nothing here imports torch until a command needs it."""
