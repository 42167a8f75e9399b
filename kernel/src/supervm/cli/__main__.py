"""``python -m supervm.cli``: the same as the ``supervm`` command."""

from supervm.cli.main import main

main()
