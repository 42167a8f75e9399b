"""SuperVM's core host ABI: storage, chain and call context, events, logs, input and output.

Every function is a :class:`supervm.HostFunction` in import module ``supervm``; pointers and
lengths are i32 offsets into the module's exported ``memory``. Gas prices are in
:data:`GAS` and documented in ``docs/host-abi.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from supervm import Event, HostFunction, HostTrap, Log, Revert

from .frame import Frame

#: Largest contract storage key, in bytes.
MAX_KEY_SIZE = 256
#: Largest contract storage value, in bytes.
MAX_VALUE_SIZE = 64 * 1024
#: Largest event or log data, in bytes.
MAX_EVENT_SIZE = 64 * 1024

#: Base gas of each host function; per-byte charges are added by the implementations.
GAS = {
    "storage_get": 200,
    "storage_read_value": 20,
    "storage_read": 200,
    "storage_set": 5000,
    "storage_delete": 2500,
    "storage_add": 5000,
    "block_number": 2,
    "timestamp": 2,
    "emit_event": 375,
    "events_len": 2,
    "read_event": 20,
    "emit_log": 375,
    "caller": 2,
    "self_address": 2,
    "input_len": 2,
    "read_input": 3,
    "set_return": 3,
    "revert": 0,
    "gas_left": 2,
    "call_value": 2,
}
#: Gas per byte of key or value moved by a storage function.
STORAGE_BYTE_GAS = 2
#: Gas per byte of event or log data, and per topic.
EVENT_BYTE_GAS = 8
LOG_TOPIC_GAS = 375
#: Gas per byte copied between memory and the host (input, return data, values read).
COPY_BYTE_GAS = 1


def static_violation() -> HostTrap:
    """The error of a state-changing host function called inside a static call.

    The backend prefixes the function's name: ``supervm.storage_set: not allowed ...``.
    """
    return HostTrap("not allowed in a static call (it would change state)")


def _key(frame: Frame, ptr: int, length: int) -> bytes:
    if length > MAX_KEY_SIZE:
        raise HostTrap(f"storage key of {length} bytes exceeds the limit of {MAX_KEY_SIZE}")
    return frame.storage_prefix + frame.read(ptr, length)


# The storage functions run several times per transaction: they are kept flat on purpose.
def storage_get(frame: Frame, key_ptr: int, key_len: int) -> int:
    value = frame.pending_value = frame.state.get(_key(frame, key_ptr, key_len))
    if value is None:
        return -1
    frame.host_gas += STORAGE_BYTE_GAS * (key_len + len(value))  # checked at the call's end
    return len(value)


def storage_read_value(frame: Frame, ptr: int, length: int) -> int:
    value = frame.pending_value
    if value is None:
        raise HostTrap("storage_read_value without a value from storage_get")
    if length < len(value):
        value = value[:length]
    frame.write(ptr, value)
    return len(value)


def storage_read(frame: Frame, key_ptr: int, key_len: int, out_ptr: int, out_len: int) -> int:
    value = frame.state.get(_key(frame, key_ptr, key_len))
    if value is None:
        return -1
    frame.host_gas += STORAGE_BYTE_GAS * (key_len + len(value))  # checked at the call's end
    if out_len < len(value):
        frame.write(out_ptr, value[:out_len])
    else:
        frame.write(out_ptr, value)
    return len(value)


def storage_set(frame: Frame, key_ptr: int, key_len: int, val_ptr: int, val_len: int) -> int:
    if frame.static:
        raise static_violation()
    if val_len > MAX_VALUE_SIZE:
        raise HostTrap(f"storage value of {val_len} bytes exceeds the limit of {MAX_VALUE_SIZE}")
    frame.host_gas += STORAGE_BYTE_GAS * (key_len + val_len)  # checked at the call's end
    frame.state.set(_key(frame, key_ptr, key_len), frame.read(val_ptr, val_len))
    return 0


def storage_add(frame: Frame, key_ptr: int, key_len: int, amount_ptr: int) -> int:
    if frame.static:
        raise static_violation()
    frame.host_gas += STORAGE_BYTE_GAS * (key_len + 32)  # checked at the call's end
    amount = int.from_bytes(frame.read(amount_ptr, 32), "little")
    frame.state.add_u256(_key(frame, key_ptr, key_len), amount)
    return 0


def storage_delete(frame: Frame, key_ptr: int, key_len: int) -> int:
    if frame.static:
        raise static_violation()
    frame.state.delete(_key(frame, key_ptr, key_len))
    return 0


def block_number(frame: Frame) -> int:
    return frame.context.block_number


def timestamp(frame: Frame) -> int:
    return frame.context.timestamp


def emit_event(frame: Frame, ptr: int, length: int) -> int:
    if frame.static:
        raise static_violation()
    if length > MAX_EVENT_SIZE:
        raise HostTrap(f"event of {length} bytes exceeds the limit of {MAX_EVENT_SIZE}")
    frame.charge(EVENT_BYTE_GAS * length)
    frame.events.append(Event(frame.context.address, frame.read(ptr, length)))
    return 0


def events_len(frame: Frame) -> int:
    return len(frame.events)


def read_event(frame: Frame, index: int, ptr: int, length: int) -> int:
    if index >= len(frame.events):
        return -1
    chunk = frame.events[index].data[:length]
    frame.write(ptr, chunk)
    return len(chunk)


def emit_log(frame: Frame, topics_ptr: int, n_topics: int, data_ptr: int, data_len: int) -> int:
    if frame.static:
        raise static_violation()
    if n_topics > 4:
        raise HostTrap(f"emit_log with {n_topics} topics; at most 4 are allowed")
    if data_len > MAX_EVENT_SIZE:
        raise HostTrap(f"log data of {data_len} bytes exceeds the limit of {MAX_EVENT_SIZE}")
    frame.charge(LOG_TOPIC_GAS * n_topics + EVENT_BYTE_GAS * data_len)
    raw = frame.read(topics_ptr, 32 * n_topics)
    topics = tuple(raw[i : i + 32] for i in range(0, len(raw), 32))
    frame.logs.append(Log(frame.context.address, topics, frame.read(data_ptr, data_len)))
    return 0


def caller(frame: Frame, out_ptr: int) -> None:
    frame.write(out_ptr, frame.context.caller)


def self_address(frame: Frame, out_ptr: int) -> None:
    frame.write(out_ptr, frame.context.address)


def call_value(frame: Frame, out_ptr: int) -> None:
    frame.write(out_ptr, frame.context.value.to_bytes(32, "big"))


def input_len(frame: Frame) -> int:
    return len(frame.input)


def read_input(frame: Frame, ptr: int) -> None:
    frame.charge(COPY_BYTE_GAS * len(frame.input))
    frame.write(ptr, frame.input)


def set_return(frame: Frame, ptr: int, length: int) -> None:
    frame.charge(COPY_BYTE_GAS * length)
    frame.return_data = frame.read(ptr, length)


def revert(frame: Frame, ptr: int, length: int) -> None:
    frame.charge(COPY_BYTE_GAS * length)
    raise Revert(frame.read(ptr, length))


def gas_left(frame: Frame) -> int:
    return frame.gas_left()


def host_function(
    name: str, params: str, result: str, impl: object, doc: str, gas: Mapping[str, int]
) -> HostFunction:
    """A host function in module ``supervm``, types written ``"i32 i32"``, gas from ``gas``."""
    return HostFunction(
        name=name,
        params=tuple(params.split()),  # type: ignore[arg-type]
        results=tuple(result.split()),  # type: ignore[arg-type]
        gas=gas[name],
        impl=impl,  # type: ignore[arg-type]
        doc=doc,
    )


_fn = functools.partial(host_function, gas=GAS)


def core_functions() -> list[HostFunction]:
    """The core host ABI, in documentation order."""
    return [
        _fn("storage_get", "i32 i32", "i64", storage_get,
            "Look up a key; returns the value's length or -1, and keeps the value."),
        _fn("storage_read_value", "i32 i32", "i32", storage_read_value,
            "Copy up to len bytes of the kept value to ptr; returns bytes written."),
        _fn("storage_read", "i32 i32 i32 i32", "i64", storage_read,
            "Look up a key and copy up to out_len bytes of its value; length or -1."),
        _fn("storage_set", "i32 i32 i32 i32", "i32", storage_set,
            "Store a value under a key; returns 0."),
        _fn("storage_delete", "i32 i32", "i32", storage_delete, "Delete a key; returns 0."),
        _fn("storage_add", "i32 i32 i32", "i32", storage_add,
            "Add a 32-byte little-endian number to a key's value without reading it; returns 0."),
        _fn("block_number", "", "i64", block_number, "The current block number."),
        _fn("timestamp", "", "i64", timestamp, "The current block timestamp."),
        _fn("emit_event", "i32 i32", "i32", emit_event, "Emit an opaque event; returns 0."),
        _fn("events_len", "", "i32", events_len, "Number of events emitted by this call."),
        _fn("read_event", "i32 i32 i32", "i32", read_event,
            "Copy up to len bytes of event index to ptr; bytes written, or -1 if none."),
        _fn("emit_log", "i32 i32 i32 i32", "i32", emit_log,
            "Emit an Ethereum log with 0-4 32-byte topics; returns 0."),
        _fn("caller", "i32", "", caller, "Write the caller's 20-byte address to out_ptr."),
        _fn("self_address", "i32", "", self_address,
            "Write the contract's 20-byte address to out_ptr."),
        _fn("call_value", "i32", "", call_value,
            "Write the call's value (msg.value), 32 bytes big-endian, to out_ptr."),
        _fn("input_len", "", "i32", input_len, "Length of the call data."),
        _fn("read_input", "i32", "", read_input, "Copy the call data to ptr."),
        _fn("set_return", "i32 i32", "", set_return, "Set the call's return data."),
        _fn("revert", "i32 i32", "", revert,
            "End the call, discard its writes and return the data as revert data."),
        _fn("gas_left", "", "i64", gas_left, "Gas remaining."),
    ]  # fmt: skip
