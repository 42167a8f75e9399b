"""An example SuperVM plugin that adds one host function, ``hello.greet``."""

from __future__ import annotations

from supervm import HostEnv, HostFunction, HostTrap, hookimpl
from supervm.plugins.registry import HostFunctionRegistry

MAX_NAME = 256


def greet(env: HostEnv, name_ptr: int, name_len: int, out_ptr: int) -> int:
    """Write ``hello, <name>`` at ``out_ptr``; return its length."""
    if name_len > MAX_NAME:
        raise HostTrap(f"name of {name_len} bytes exceeds {MAX_NAME}")
    env.charge(name_len)  # per-byte gas on top of the base price below
    greeting = b"hello, " + env.read(name_ptr, name_len)
    env.write(out_ptr, greeting)
    return len(greeting)


@hookimpl
def supervm_register_host_functions(registry: HostFunctionRegistry) -> None:
    """Contribute ``hello.greet`` to every execution backend."""
    registry.add_host_function(
        HostFunction(
            module="hello",
            name="greet",
            params=("i32", "i32", "i32"),
            results=("i32",),
            gas=100,
            impl=greet,
            doc="Write 'hello, <name>' at out_ptr and return its length.",
        )
    )
