"""Entry point of a worker process: ``python -m supervm_scheduler_parallel.worker_process FD``.

Kept apart from :mod:`.worker`, which the package imports, so that ``-m`` runs a module no one
has imported yet.
"""

from __future__ import annotations

import socket
import sys
from multiprocessing.connection import Connection

from supervm_scheduler_parallel.worker import main

if __name__ == "__main__":
    main(Connection(socket.socket(fileno=int(sys.argv[1])).detach()))
