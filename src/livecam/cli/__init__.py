"""The ``livecam`` command line: a thin layer over the library.

``app`` holds the typer app and what every command shares (errors, exit codes,
signals, progress); ``options`` the options several commands share, each
validated where declared; one module per command group registers its commands.
"""

# Importing a command module registers its commands, in this order in --help.
from livecam.cli import image, demo, video, serve, evaluate, bench  # noqa: F401, I001
from livecam.cli.app import app, main

__all__ = ["app", "main"]
