"""Command-line interface: the ``prefkit`` command (``prefkit --help``).

Thin on purpose — parse arguments, call the library, print and write.  :mod:`prefkit.cli.app`
holds the command table (sub-commands are imported only when used), :mod:`prefkit.cli.options`
the options every command shares, :mod:`prefkit.cli._common` the error guard and I/O helpers.
"""

from prefkit.cli.app import app, main

__all__ = ["app", "main"]
