"""The ``haven`` command line: the group, and the commands it is made of.

``serve`` is in ``serve.py``, ``keys`` in ``keys.py``, the advisor accounts in
``advisors.py``, ``purge``, ``backup`` and ``restore`` in ``maintenance.py``;
what they share (settings, a database) in ``common.py``.
"""

from __future__ import annotations

import click

from .. import __version__
from ..security.files import private_umask
from .advisors import advisor
from .keys import keys
from .maintenance import backup, purge, restore
from .serve import serve


@click.group()
@click.version_option(__version__, prog_name="haven")
def main() -> None:
    """Haven: an offline-first help app."""
    # Before anything is written: the database and the keys are this user's alone.
    private_umask()


main.add_command(serve)
main.add_command(keys)
main.add_command(advisor)
main.add_command(purge)
main.add_command(backup)
main.add_command(restore)
