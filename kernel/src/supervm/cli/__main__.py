"""``python -m supervm.cli``: the same as the ``supervm`` command."""

from .main import main

main()
