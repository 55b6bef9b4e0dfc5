"""``python -m server``: the ``haven`` command line."""

from .cli import main

main(prog_name="haven")
