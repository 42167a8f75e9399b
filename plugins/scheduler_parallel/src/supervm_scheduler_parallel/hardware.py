"""How well this machine runs two things at once: the scaling of two processes of pure computation.

A parallel speedup means little without it: on a 2-core machine shared with other work, two
processes of pure computation were measured to scale only 1.55 to 1.97x at times. ``supervm
bench parallel`` measures it in the same run as the speedup and prints both.
"""

from __future__ import annotations

import subprocess
import sys
import time

#: The computation: a Python loop, timed by each process itself from a common start.
_PROBE = """
import sys, time
n, start = int(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    pass
x = 0
for i in range(n):
    x += i * i
print(time.time())
"""
#: Iterations per process: about a quarter of a second here.
DEFAULT_ITERATIONS = 4_000_000
#: Time given to the processes to start before they begin together.
_START_DELAY = 0.4


def _run(copies: int, iterations: int) -> float:
    """Seconds from the common start until the last of ``copies`` processes finished."""
    start = time.time() + _START_DELAY
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROBE, str(iterations), repr(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(copies)
    ]
    ends = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError("the hardware-scaling probe failed")
        ends.append(float(out.strip()))
    return max(ends) - start


def hardware_scaling(iterations: int = DEFAULT_ITERATIONS, repeats: int = 2) -> float:
    """Throughput of two processes computing at once over one's (2.0 on two idle cores).

    Each side's best of ``repeats`` is kept, as for the benchmark's own timings.

    :param iterations: loop iterations per process.
    :param repeats: measurements of each side.
    """
    one = min(_run(1, iterations) for _ in range(repeats))
    two = min(_run(2, iterations) for _ in range(repeats))
    return 2 * one / two
