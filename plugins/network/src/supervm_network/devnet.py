"""A local network of validators on loopback: ``supervm devnet up`` and ``supervm devnet down``.

``up`` lays out a directory::

    DIR/genesis.json              a poa genesis: the validators, the 10 dev accounts funded
    DIR/keys/validator-N.key      each validator's key (mode 0600)
    DIR/node-N/                   each node's data directory (chain, node key)
    DIR/node-N.log                each node's output
    DIR/devnet.json               what ``down`` and a restart need: pids, ports, commands

then starts one ``supervm node`` per validator in the background, the first alone, the others
with it as their bootnode, and returns once every node has a peer for each other node (polled
over JSON-RPC, ``net_peerCount``). Every port is chosen before the nodes start (the base port
and up, or free ones), so that a node restarted with its ``cmd`` listens where the others
remember it, and its node key in its data directory keeps its peer id.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import DEV_CHAIN_ID, dev_genesis
from supervm.crypto import keccak256
from supervm.errors import SuperVMError
from supervm.node.keyfile import address_of, load_validator_key, write_validator_key

#: The file ``up`` records the network in.
STATE_FILE: Final = "devnet.json"
#: Seconds between blocks: the genesis period and each node's ``--block-time``, so that blocks
#: (empty ones too) keep coming and earlier ones become final.
BLOCK_TIME: Final = 1
LOOPBACK: Final = "127.0.0.1"
#: Clique's vanity and seal sizes in a genesis ``extraData``.
_VANITY, _SEAL = 32, 65


class DevnetError(SuperVMError):
    """A devnet cannot be started or stopped; the message says why."""


@attrs.frozen
class DevnetNode:
    """One validator node of a devnet.

    :param index: its position (``node-INDEX``).
    :param address: the validator's address (0x hex, EIP-55).
    :param rpc: its JSON-RPC URL.
    :param p2p: its libp2p multiaddr (``/ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID``).
    :param pid: the process id.
    :param cmd: the argument list that (re)starts it on its data directory.
    :param data_dir: its data directory.
    :param log: the file its output goes to.
    """

    index: int
    address: str
    rpc: str
    p2p: str
    pid: int
    cmd: tuple[str, ...]
    data_dir: str
    log: str

    def to_json(self) -> dict[str, Any]:
        """The node as ``--json`` prints it (and ``devnet.json`` keeps it)."""
        return {
            "address": self.address,
            "rpc": self.rpc,
            "p2p": self.p2p,
            "pid": self.pid,
            "cmd": list(self.cmd),
            "index": self.index,
            "data_dir": self.data_dir,
            "log": self.log,
        }


@attrs.frozen
class Devnet:
    """A devnet as ``up`` left it."""

    directory: Path
    genesis: Path
    nodes: tuple[DevnetNode, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"genesis": PATH, "nodes": [...]}``."""
        return {"genesis": str(self.genesis), "nodes": [n.to_json() for n in self.nodes]}


def checksum(address: bytes) -> str:
    """``address`` in EIP-55 mixed case."""
    digits = address.hex()
    hashed = keccak256(digits.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(digits, hashed, strict=False)
    )


def devnet_genesis(
    validators: Sequence[bytes], *, chain_id: int = DEV_CHAIN_ID, period: int = BLOCK_TIME
) -> dict[str, Any]:
    """The devnet's genesis: the dev accounts funded as ``--dev`` funds them, chain
    ``chain_id``, the ``poa`` engine with ``validators`` in rotation order (its format,
    ``docs/consensus.md``; written here rather than imported, as plugins reach each other only
    through the kernel)."""
    data = dev_genesis(tuple(a.address for a in dev_accounts()), chain_id=chain_id)
    data["difficulty"] = "0x1"
    data["extraData"] = "0x" + (bytes(_VANITY) + b"".join(validators) + bytes(_SEAL)).hex()
    data["supervm"] = {
        "consensus": {
            "engine": "poa",
            "validators": ["0x" + v.hex() for v in validators],
            "period": period,
        },
        "plugins": ["consensus_poa"],
    }
    return data


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct TCP ports free now on ``host``."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def node_command(
    *,
    genesis: Path,
    data_dir: Path,
    key: Path,
    rpc_port: int,
    p2p_port: int,
    bootnodes: Sequence[str] = (),
    python: str = sys.executable,
    log_json: bool = False,
) -> list[str]:
    """The ``supervm node`` argument list of a devnet validator (``log_json``: its log as JSON
    lines, with each record's time, which ``bench network`` reads)."""
    cmd = [
        python, "-m", "supervm.cli", *(["--log-json"] if log_json else []), "node",
        "--genesis", str(genesis),
        "--data-dir", str(data_dir), "--validator-key", str(key),
        "--rpc-port", str(rpc_port), "--p2p-port", str(p2p_port),
        "--block-time", str(BLOCK_TIME), "--no-explorer",
    ]  # fmt: skip
    if bootnodes:
        cmd += ["--bootnodes", ",".join(bootnodes)]
    return cmd


def rpc_call(url: str, method: str, params: Sequence[Any] = (), timeout: float = 5.0) -> Any:
    """One JSON-RPC call; the result.

    :raises DevnetError: if the node does not answer or answers an error.
    """
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        url, body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise DevnetError(f"{url} does not answer {method}: {exc}") from None
    if "error" in answer:
        raise DevnetError(f"{url}: {method} failed: {answer['error'].get('message')}")
    return answer["result"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def start_process(cmd: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in the background, in its own session (so it outlives the command that
    started it and a Ctrl-C there), with its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_serving(url: str, pid: int, log: Path, timeout: float) -> dict[str, Any]:
    """Wait until the node at ``url`` answers ``admin_nodeInfo``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(pid):
            raise DevnetError(f"the node logging to {log} exited:\n{_tail(log)}")
        try:
            info = rpc_call(url, "admin_nodeInfo", timeout=2.0)
        except DevnetError:
            info = None
        if isinstance(info, dict) and info.get("multiaddr"):
            return info
        if time.monotonic() > deadline:
            raise DevnetError(
                f"the node logging to {log} did not serve admin_nodeInfo within {timeout:.0f} s "
                f"(is the network plugin enabled?):\n{_tail(log)}"
            )
        time.sleep(0.2)


def wait_connected(nodes: Sequence[DevnetNode], peers: int, timeout: float) -> None:
    """Wait until every node reports at least ``peers`` peers (``net_peerCount``)."""
    deadline = time.monotonic() + timeout
    counts: dict[int, int] = {}
    while True:
        for node in nodes:
            try:
                counts[node.index] = int(rpc_call(node.rpc, "net_peerCount", timeout=2.0), 16)
            except (DevnetError, ValueError, TypeError):
                counts[node.index] = -1
        if all(c >= peers for c in counts.values()):
            return
        if time.monotonic() > deadline:
            shown = ", ".join(f"node-{i}: {c}" for i, c in sorted(counts.items()))
            raise DevnetError(
                f"the nodes did not connect within {timeout:.0f} s (peers: {shown}; "
                f"expected {peers} each)"
            )
        time.sleep(0.25)


def up(
    directory: Path,
    validators: int,
    *,
    base_port: int | None = None,
    chain_id: int = DEV_CHAIN_ID,
    timeout: float = 90.0,
    python: str = sys.executable,
    log_json: bool = False,
) -> Devnet:
    """Lay out ``directory`` and start ``validators`` nodes; return once they are connected.

    :param log_json: the nodes log JSON lines (``supervm --log-json node``).

    :raises DevnetError: if ``directory`` holds a running devnet or files of another kind, a
        node fails to start, or the nodes do not connect within ``timeout`` seconds (the
        nodes started are stopped again).
    """
    if validators < 1:
        raise DevnetError(f"a devnet needs at least one validator, got {validators}")
    if base_port is not None and not 1024 <= base_port <= 65535 - 2 * validators:
        raise DevnetError(f"--base-port {base_port}: needs {2 * validators} ports from it")
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / STATE_FILE
    if state.exists():
        running = [n for n in _read_nodes(state) if _alive(int(n["pid"]))]
        if running:
            raise DevnetError(
                f"{directory} holds a running devnet ({len(running)} nodes): stop it with "
                f"`supervm devnet down --dir {directory}`"
            )
    genesis_path = directory / "genesis.json"
    keys_dir = directory / "keys"
    keys_dir.mkdir(exist_ok=True)
    keys: list[Path] = []
    addresses: list[bytes] = []
    for index in range(validators):
        key = keys_dir / f"validator-{index}.key"
        # A directory kept from an earlier devnet keeps its keys (and so its chain).
        addresses.append(
            address_of(load_validator_key(key)) if key.exists() else write_validator_key(key)
        )
        keys.append(key)
    genesis = devnet_genesis(addresses, chain_id=chain_id)
    if genesis_path.exists():
        if json.loads(genesis_path.read_text()) != genesis:
            raise DevnetError(
                f"{genesis_path} is another network's genesis (other validators or chain id): "
                "use another --dir"
            )
    else:
        genesis_path.write_text(json.dumps(genesis, indent=2) + "\n")
    if base_port is not None:
        ports = [base_port + i for i in range(2 * validators)]
    else:
        ports = free_ports(2 * validators)
    rpc_ports, p2p_ports = ports[0::2], ports[1::2]
    started: list[DevnetNode] = []
    try:
        for index in range(validators):
            data_dir = directory / f"node-{index}"
            log = directory / f"node-{index}.log"
            bootnodes = [started[0].p2p] if started else []
            cmd = node_command(
                genesis=genesis_path, data_dir=data_dir, key=keys[index],
                rpc_port=rpc_ports[index], p2p_port=p2p_ports[index], bootnodes=bootnodes,
                python=python, log_json=log_json,
            )  # fmt: skip
            process = start_process(cmd, log)
            url = f"http://{LOOPBACK}:{rpc_ports[index]}/"
            info = wait_serving(url, process.pid, log, timeout)
            started.append(
                DevnetNode(
                    index=index,
                    address=checksum(addresses[index]),
                    rpc=url,
                    p2p=str(info["multiaddr"]),
                    pid=process.pid,
                    cmd=tuple(cmd),
                    data_dir=str(data_dir),
                    log=str(log),
                )
            )
        # Restarted, a node dials every other one: the first has no bootnode otherwise.
        nodes = tuple(
            attrs.evolve(node, cmd=tuple(restart_command(node, started))) for node in started
        )
        devnet = Devnet(directory, genesis_path, nodes)
        _write_state(state, devnet)
        wait_connected(nodes, validators - 1, timeout)
    except BaseException:
        for node in started:
            _stop(node.pid)
        raise
    return devnet


def restart_command(node: DevnetNode, nodes: Sequence[DevnetNode]) -> list[str]:
    """``node``'s command with every other node as a bootnode."""
    cmd = list(node.cmd)
    if "--bootnodes" in cmd:
        at = cmd.index("--bootnodes")
        del cmd[at : at + 2]
    others = [n.p2p for n in nodes if n.index != node.index]
    if others:
        cmd += ["--bootnodes", ",".join(others)]
    return cmd


def _write_state(path: Path, devnet: Devnet) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(devnet.to_json(), indent=2) + "\n")
    os.replace(temporary, path)


def _read_nodes(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
        nodes = data["nodes"]
        assert isinstance(nodes, list)
        return nodes
    except (OSError, ValueError, KeyError, AssertionError):
        raise DevnetError(f"{path} is not a devnet's state file") from None


def load(directory: Path) -> Devnet:
    """The devnet ``up`` recorded in ``directory``.

    :raises DevnetError: if there is none.
    """
    state = directory / STATE_FILE
    if not state.exists():
        raise DevnetError(f"no devnet in {directory} (no {STATE_FILE})")
    data = json.loads(state.read_text())
    nodes = tuple(
        DevnetNode(
            index=int(n["index"]),
            address=n["address"],
            rpc=n["rpc"],
            p2p=n["p2p"],
            pid=int(n["pid"]),
            cmd=tuple(n["cmd"]),
            data_dir=n["data_dir"],
            log=n["log"],
        )
        for n in _read_nodes(state)
    )
    return Devnet(directory, Path(data["genesis"]), nodes)


def _is_our_node(pid: int, data_dir: str) -> bool:
    """Whether ``pid`` still runs a node on ``data_dir`` (a recycled pid is not ours)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return _alive(pid)  # no /proc: trust the recorded pid
    return data_dir.encode() in args


def _stop(pid: int, grace: float = 10.0) -> bool:
    """SIGTERM ``pid`` (a clean shutdown), SIGKILL it after ``grace`` seconds; whether it ran."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while _alive(pid):
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.1)
            break
        time.sleep(0.05)
    return True


def down(directory: Path) -> list[DevnetNode]:
    """Stop the nodes of the devnet in ``directory``; return those that were running.

    The directory (keys, genesis, chains) stays: ``up`` on it again continues the chain.
    """
    devnet = load(directory)
    stopped = []
    for node in devnet.nodes:
        if _is_our_node(node.pid, node.data_dir) and _stop(node.pid):
            stopped.append(node)
    return stopped
