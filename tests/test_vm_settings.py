"""The kernel's default VM settings reach every backend built without explicit ones, and the
command line's ``--vm-option KEY=VALUE`` sets them."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from supervm import Kernel
from supervm.cli.main import cli
from supervm.cli.state import parse_vm_options
from supervm.execution.interfaces import VMSettings


def test_backends_and_dispatchers_use_the_kernel_default() -> None:
    with Kernel.from_plugins(env={}) as kernel:
        kernel.vm_settings = VMSettings(max_memory=8 * 1024 * 1024)
        assert kernel.dispatcher() is kernel.dispatcher(kernel.vm_settings)
        assert kernel.vm() is kernel.vm(None, VMSettings(max_memory=8 * 1024 * 1024))
        assert kernel.vm() is not kernel.vm(None, VMSettings())


def test_vm_options_parse() -> None:
    assert parse_vm_options(("evm=pyevm", "a=b=c", "empty=")) == {
        "evm": "pyevm",
        "a": "b=c",
        "empty": "",
    }
    for bad in ("evm", "=pyevm"):
        with pytest.raises(click.BadParameter, match="is not KEY=VALUE"):
            parse_vm_options((bad,))


def test_a_malformed_vm_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--vm-option", "nonsense", "plugins"])
    assert result.exit_code == 2
    assert "'nonsense' is not KEY=VALUE" in result.output
