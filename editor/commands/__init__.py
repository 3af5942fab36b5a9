"""One module per `python -m editor` subcommand. Each defines `register(subparsers)`, which adds its
parser and sets `func` to a function taking the parsed args and returning an exit code.

Commands are thin: flags -> a Studio request, the Studio runs the job (and saves its record in the
output folder, as the app does), the outcome -> files and lines on stdout. The helpers here are
what every command shares.
"""
