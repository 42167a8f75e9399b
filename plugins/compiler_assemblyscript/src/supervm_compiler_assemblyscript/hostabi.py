"""The host functions ``docs/host-abi.md`` documents, with their signatures.

A compiled contract may import only host functions some enabled plugin defines: the compiler
checks imports against ``CompileSettings.known_imports`` and falls back to this list when it is
empty (when the compiler runs outside a kernel, for instance).
"""

from __future__ import annotations

MODULE = "supervm"

#: name -> (params, results), in documentation order.
HOST_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "storage_get": (("i32", "i32"), ("i64",)),
    "storage_read_value": (("i32", "i32"), ("i32",)),
    "storage_read": (("i32", "i32", "i32", "i32"), ("i64",)),
    "storage_set": (("i32", "i32", "i32", "i32"), ("i32",)),
    "storage_delete": (("i32", "i32"), ("i32",)),
    "storage_add": (("i32", "i32", "i32"), ("i32",)),
    "block_number": ((), ("i64",)),
    "timestamp": ((), ("i64",)),
    "caller": (("i32",), ()),
    "self_address": (("i32",), ()),
    "call_value": (("i32",), ()),
    "input_len": ((), ("i32",)),
    "read_input": (("i32",), ()),
    "set_return": (("i32", "i32"), ()),
    "revert": (("i32", "i32"), ()),
    "gas_left": ((), ("i64",)),
    "emit_event": (("i32", "i32"), ("i32",)),
    "events_len": ((), ("i32",)),
    "read_event": (("i32", "i32", "i32"), ("i32",)),
    "emit_log": (("i32", "i32", "i32", "i32"), ("i32",)),
    "call_contract": (("i32", "i32", "i32", "i32", "i64"), ("i32",)),
    "call_static": (("i32", "i32", "i32", "i64"), ("i32",)),
    "call_delegate": (("i32", "i32", "i32", "i64"), ("i32",)),
    "return_data_len": ((), ("i32",)),
    "read_return_data": (("i32",), ()),
    "sha256": (("i32", "i32", "i32"), ("i32",)),
    "keccak256": (("i32", "i32", "i32"), ("i32",)),
    "verify_ed25519": (("i32", "i32", "i32", "i32"), ("i32",)),
    "verify_secp256k1": (("i32", "i32", "i32", "i32"), ("i32",)),
    "recover_secp256k1_pubkey": (("i32", "i32", "i32"), ("i32",)),
    "derive_eth_address": (("i32", "i32", "i32"), ("i32",)),
}

#: ``(module, name)`` of every documented host function.
DOCUMENTED_IMPORTS: frozenset[tuple[str, str]] = frozenset((MODULE, n) for n in HOST_FUNCTIONS)
