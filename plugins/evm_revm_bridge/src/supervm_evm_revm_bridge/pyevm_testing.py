"""A small EVM assembler for tests: readable bytecode without a compiler.

``assemble("CALLER", 0, "SSTORE", "STOP")`` is ``33 5f 55 00``: strings are mnemonics, integers
and byte strings are pushed with the shortest ``PUSH`` that holds them (``PUSH0`` for 0), and
labels make jumps readable: ``"@loop"`` marks a ``JUMPDEST``, ``":loop"`` pushes its offset.
:func:`deployer` wraps runtime code in init code that returns it, for create transactions.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth.vm import opcode_values

_OPCODES: dict[str, int] = {
    name: value
    for name, value in vars(opcode_values).items()
    if name.isupper() and isinstance(value, int)
}
_OPCODES["KECCAK256"] = _OPCODES["SHA3"]
_LABEL_SIZE = 2

Item = str | int | bytes


class AssemblyError(ValueError):
    """An item the assembler cannot encode (unknown mnemonic, label, or a value too large)."""


def _push(data: bytes) -> bytes:
    if not data.strip(b"\0"):
        return bytes([_OPCODES["PUSH0"]])
    data = data.lstrip(b"\0") or b"\0"
    if len(data) > 32:
        raise AssemblyError(f"cannot push {len(data)} bytes: at most 32")
    return bytes([_OPCODES["PUSH1"] + len(data) - 1]) + data


def _encode(item: Item, labels: dict[str, int] | None) -> bytes:
    if isinstance(item, bytes):
        return _push(item)
    if isinstance(item, int):
        if not 0 <= item < 2**256:
            raise AssemblyError(f"cannot push {item}: not a 256-bit unsigned integer")
        return _push(item.to_bytes(32, "big"))
    if item.startswith("@"):
        return bytes([_OPCODES["JUMPDEST"]])
    if item.startswith(":"):
        offset = 0 if labels is None else labels.get(item[1:])
        if offset is None:
            raise AssemblyError(f"unknown label {item[1:]!r}")
        return bytes([_OPCODES["PUSH1"] + _LABEL_SIZE - 1]) + offset.to_bytes(_LABEL_SIZE, "big")
    opcode = _OPCODES.get(item.upper())
    if opcode is None:
        raise AssemblyError(f"unknown mnemonic {item!r}")
    return bytes([opcode])


def assemble(*items: Item | Iterable[Item]) -> bytes:
    """EVM bytecode for ``items`` (nested iterables are flattened)."""
    flat: list[Item] = []
    for item in items:
        if isinstance(item, str | int | bytes):
            flat.append(item)
        else:
            flat.extend(item)
    labels: dict[str, int] = {}
    offset = 0
    for item in flat:
        if isinstance(item, str) and item.startswith("@"):
            labels[item[1:]] = offset
        offset += len(_encode(item, None))
    return b"".join(_encode(item, labels) for item in flat)


def deployer(runtime: bytes) -> bytes:
    """Init code that deploys ``runtime`` unchanged."""

    def head(offset: int) -> bytes:
        return assemble(len(runtime), "DUP1", offset, 0, "CODECOPY", 0, "RETURN")

    # Any offset from 1 to 255 takes a PUSH1, so a trial head has the real head's length.
    return head(len(head(1))) + runtime


#: A WASM contract whose input is a 20-byte target, a 32-byte value and the calldata: it calls
#: the target and returns its return data (reverting with it if the call failed).
WASM_CALLER_WAT = """
(module
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "set_return" (func $set_return (param i32 i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (import "supervm" "call_contract" (func $call (param i32 i32 i32 i32 i64) (result i32)))
  (import "supervm" "return_data_len" (func $rdlen (result i32)))
  (import "supervm" "read_return_data" (func $rdread (param i32)))
  (memory (export "memory") 1)
  (func (export "call")
    (local $n i32) (local $status i32) (local $r i32)
    (local.set $n (call $input_len))
    (call $read_input (i32.const 0))
    (local.set $status
      (call $call (i32.const 0) (i32.const 52) (i32.sub (local.get $n) (i32.const 52))
                  (i32.const 20) (i64.const 5000000)))
    (local.set $r (call $rdlen))
    (call $rdread (i32.const 4096))
    (if (local.get $status) (then (call $revert (i32.const 4096) (local.get $r)) (return)))
    (call $set_return (i32.const 4096) (local.get $r))))
"""


__all__ = ["WASM_CALLER_WAT", "AssemblyError", "assemble", "deployer"]
