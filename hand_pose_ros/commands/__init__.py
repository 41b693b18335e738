"""Subcommands of the `hand-pose` CLI, one module each (HELP, add_arguments, run)."""
