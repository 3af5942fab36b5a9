"""One module per `python -m editor` subcommand. Each defines `register(subparsers)`, which
adds its parser and sets `func` to a function taking the parsed args and returning an exit code."""
