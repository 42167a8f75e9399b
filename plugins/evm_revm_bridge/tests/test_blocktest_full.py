"""All 1,760 Cancun BlockchainTests of the shared conformance data, for both EVM engines.

CI only (``@pytest.mark.ci_only``): the pyrevm engine takes about 2.5 minutes on this machine,
py-evm longer. The failures are printed grouped by the field that differs first.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervm import Kernel
from supervm_evm_revm_bridge import blocktest

CONFORMANCE = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "ethereum-tests"
SUITE = CONFORMANCE / "BlockchainTests"


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as kernel:
        yield kernel


@pytest.mark.ci_only
@pytest.mark.skipif(not SUITE.is_dir(), reason=f"no conformance data at {SUITE}")
@pytest.mark.parametrize("engine", ["pyrevm", "pyevm"])
def test_every_cancun_blockchain_test_passes(kernel: Kernel, engine: str) -> None:
    report = blocktest.run(kernel, [SUITE], engine=engine)
    assert report.passed + report.failed == 1_760
    groups = collections.Counter(f.field.split(" storage[")[0] for f in report.failures)
    shown = "\n".join(f"{f.name}: {f.field} ({f.detail[:120]})" for f in report.failures)
    assert report.failures == (), f"{report.failed} failed, by field {dict(groups)}:\n{shown}"
