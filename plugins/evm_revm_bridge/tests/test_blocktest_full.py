"""All 1,760 Cancun BlockchainTests of the shared conformance data, for both EVM engines.

CI only (``@pytest.mark.ci_only``): the pyrevm engine takes about 2.5 minutes on this machine.
py-evm interprets about 3 million gas a second, so two tests of the suite (``loopMul`` with
2.5 and 6.2 billion gas) would take 14 and 35 minutes alone: each test runs under a bound of
:data:`TIME_BOUND` seconds, and one that exceeds it is reported as not finished (never as
passed), so the run fits CI's time. Every test that finishes must pass. The failures are printed
grouped by the field that differs first.
"""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from supervm import Kernel
from supervm_evm_revm_bridge import blocktest

CONFORMANCE = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "ethereum-tests"
SUITE = CONFORMANCE / "BlockchainTests"
#: Seconds one test may take (the slowest pyrevm test takes a few seconds; py-evm's largest
#: finishing test, loopMul_d2 with 544 million gas, about 190 s of CPU).
TIME_BOUND = 300


class _OverTime(BaseException):
    """Raised in the test by the alarm: a BaseException, so no handler of the engine's swallows
    it."""


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as kernel:
        yield kernel


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _OverTime


@pytest.mark.ci_only
@pytest.mark.timeout(0)  # the whole suite runs for minutes; each test has its own bound here
@pytest.mark.skipif(not SUITE.is_dir(), reason=f"no conformance data at {SUITE}")
@pytest.mark.parametrize("engine", ["pyrevm", "pyevm"])
def test_every_cancun_blockchain_test_passes(kernel: Kernel, engine: str) -> None:
    blocktest.select_engine(kernel, engine)
    failures: list[blocktest.Failure] = []
    unfinished: list[str] = []
    passed = 0
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for name, test in blocktest.iter_tests(blocktest.test_files([SUITE])):
            if test is None:
                continue
            signal.alarm(TIME_BOUND)
            try:
                failure = blocktest.run_test(kernel, name, test)
            except _OverTime:
                unfinished.append(name)
                continue
            except Exception as exc:  # one test's crash must not end the run
                failure = blocktest.Failure(name, "crash", detail=f"{type(exc).__name__}: {exc}")
            finally:
                signal.alarm(0)
            if failure is None:
                passed += 1
            else:
                failures.append(failure)
    finally:
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    print(
        f"{engine}: {passed} passed, {len(failures)} failed, {len(unfinished)} not finished "
        f"within {TIME_BOUND} s each ({', '.join(unfinished) or 'none'}), {elapsed:.0f} s"
    )
    assert passed + len(failures) + len(unfinished) == 1_760
    groups = collections.Counter(f.field.split(" storage[")[0] for f in failures)
    shown = "\n".join(f"{f.name}: {f.field} ({f.detail[:120]})" for f in failures)
    assert not failures, f"{len(failures)} failed, by field {dict(groups)}:\n{shown}"
    if engine == "pyrevm":
        assert not unfinished, f"pyrevm did not finish {unfinished}"
