"""``supervm devnet`` without starting nodes: keys, genesis, commands, the JSON shape, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import parse_genesis
from supervm.node.keyfile import address_of, load_validator_key
from supervm_network import commands, devnet


def test_genesis_funds_the_dev_accounts_and_names_the_validators() -> None:
    validators = [bytes([i]) * 20 for i in range(1, 4)]
    data = devnet.devnet_genesis(validators, chain_id=4242)
    genesis = parse_genesis(data)
    assert genesis.chain_id == 4242
    assert genesis.consensus.engine == "poa"
    assert genesis.consensus.validators == tuple(validators)
    assert genesis.consensus.options["period"] == str(devnet.BLOCK_TIME)
    for account in dev_accounts():
        assert genesis.alloc[account.address].balance == 10_000 * 10**18
    assert len(genesis.alloc) == 10
    extra = bytes.fromhex(data["extraData"][2:])
    assert extra[32:-65] == b"".join(validators)


def test_node_command_and_restart_command() -> None:
    cmd = devnet.node_command(
        genesis=Path("/g.json"), data_dir=Path("/d"), key=Path("/k"), rpc_port=1,
        p2p_port=2, bootnodes=["/ip4/127.0.0.1/tcp/9/p2p/A"], python="py",
    )  # fmt: skip
    assert cmd[:4] == ["py", "-m", "supervm.cli", "node"]
    joined = " ".join(cmd)
    for part in ("--genesis /g.json", "--data-dir /d", "--validator-key /k", "--rpc-port 1",
                 "--p2p-port 2", "--bootnodes /ip4/127.0.0.1/tcp/9/p2p/A"):  # fmt: skip
        assert part in joined
    nodes = [
        devnet.DevnetNode(
            index=i,
            address="0x",
            rpc="",
            p2p=f"/ip4/127.0.0.1/tcp/{i}/p2p/P{i}",
            pid=0,
            cmd=tuple(cmd),
            data_dir="",
            log="",
        )
        for i in range(3)
    ]
    restart = devnet.restart_command(nodes[1], nodes)
    assert restart.count("--bootnodes") == 1
    assert restart[restart.index("--bootnodes") + 1] == (
        "/ip4/127.0.0.1/tcp/0/p2p/P0,/ip4/127.0.0.1/tcp/2/p2p/P2"
    )


def test_free_ports_are_distinct() -> None:
    ports = devnet.free_ports(8)
    assert len(set(ports)) == 8


def test_up_refuses_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(devnet.DevnetError, match="at least one validator"):
        devnet.up(tmp_path, 0)
    with pytest.raises(devnet.DevnetError, match="needs 8 ports"):
        devnet.up(tmp_path, 4, base_port=65530)
    (tmp_path / "genesis.json").write_text("{}")
    with pytest.raises(devnet.DevnetError, match="another network's genesis"):
        devnet.up(tmp_path, 2)
    # The keys were made (and are kept for a later up on the same directory).
    keys = sorted((tmp_path / "keys").iterdir())
    assert [k.name for k in keys] == ["validator-0.key", "validator-1.key"]
    assert all(k.stat().st_mode & 0o777 == 0o600 for k in keys)


def test_a_node_that_cannot_start_is_reported_with_its_output(tmp_path: Path) -> None:
    # A "python" that exits at once: up names the log and shows its last lines.
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'no such node' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(devnet.DevnetError, match="exited:\nno such node"):
        devnet.up(tmp_path / "net", 1, python=str(fake), timeout=10)


def test_down_stops_recorded_processes_and_not_strangers(tmp_path: Path) -> None:
    data_dir = tmp_path / "node-0"
    ours = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(data_dir)],
        start_new_session=True,
    )
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        net = devnet.Devnet(
            tmp_path,
            tmp_path / "genesis.json",
            tuple(
                devnet.DevnetNode(
                    index=i,
                    address="0x",
                    rpc="",
                    p2p="",
                    pid=p.pid,
                    cmd=(),
                    data_dir=str(data_dir),
                    log="",
                )
                for i, p in enumerate((ours, stranger))
            ),
        )
        (tmp_path / devnet.STATE_FILE).write_text(json.dumps(net.to_json()))
        stopped = devnet.down(tmp_path)
        assert [n.pid for n in stopped] == [ours.pid]
        assert ours.wait(10) is not None
        assert stranger.poll() is None  # not its data directory: left alone
    finally:
        for p in (ours, stranger):
            p.kill()
            p.wait()
    with pytest.raises(devnet.DevnetError, match="no devnet in"):
        devnet.down(tmp_path / "elsewhere")


def test_cli_json_shape_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = devnet.DevnetNode(
        index=0, address="0xAb", rpc="http://127.0.0.1:1/", p2p="/ip4/127.0.0.1/tcp/2/p2p/X",
        pid=7, cmd=("py", "-m", "supervm.cli", "node"), data_dir="/d", log="/l",
    )  # fmt: skip
    fake = devnet.Devnet(tmp_path, tmp_path / "genesis.json", (node,))
    calls: list[tuple[Path, int, int | None, int]] = []

    def fake_up(directory: Path, validators: int, **kw: object) -> devnet.Devnet:
        calls.append((directory, validators, kw["base_port"], kw["chain_id"]))  # type: ignore[arg-type]
        return fake

    monkeypatch.setattr(devnet, "up", fake_up)
    runner = CliRunner()
    result = runner.invoke(
        commands.devnet_group,
        ["up", "--validators", "1", "--dir", str(tmp_path), "--json", "--chain-id", "5"],
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line == {
        "genesis": str(tmp_path / "genesis.json"),
        "nodes": [
            {"address": "0xAb", "rpc": "http://127.0.0.1:1/", "p2p": node.p2p, "pid": 7,
             "cmd": ["py", "-m", "supervm.cli", "node"]}
        ],
    }  # fmt: skip
    assert calls == [(tmp_path, 1, None, 5)]
    result = runner.invoke(commands.devnet_group, ["up", "--validators", "0", "--dir", "x"])
    assert result.exit_code == 2 and "--validators" in result.output


def test_existing_keys_are_reused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    key = tmp_path / "keys" / "validator-0.key"
    key.write_text("0x" + "11" * 32)
    # A genesis of another network makes up stop before starting anything: enough to see
    # which addresses it would have used.
    (tmp_path / "genesis.json").write_text("{}")
    with pytest.raises(devnet.DevnetError):
        devnet.up(tmp_path, 1)
    assert load_validator_key(key) == bytes.fromhex("11" * 32)
    assert address_of(load_validator_key(key)) == address_of(bytes.fromhex("11" * 32))


def test_bench_propagation_reads_the_nodes_json_logs(tmp_path: Path) -> None:
    from supervm_network.bench import propagation

    def log(name: str, *records: dict[str, object]) -> Path:
        path = tmp_path / name
        path.write_text("INFO not json\n" + "\n".join(json.dumps(r) for r in records) + "\n")
        return path

    sealed = {"event": "block_sealed", "number": 5, "hash": "0xa", "transactions": 3}
    empty = {"event": "block_sealed", "number": 6, "hash": "0xb", "transactions": 0}
    logs = [
        log("0", {**sealed, "time": 10.0}, {**empty, "time": 20.0}),
        log("1", {"event": "blocks_imported", "count": 1, "number": 5, "hash": "0xa",
                  "time": 10.25},
            {"event": "blocks_imported", "count": 1, "number": 6, "hash": "0xb", "time": 20.1}),
        log("2", {"event": "blocks_imported", "count": 1, "number": 5, "hash": "0xa",
                  "time": 10.5},
            {"event": "blocks_imported", "count": 3, "number": 8, "hash": "0xd", "time": 30}),
    ]  # fmt: skip
    delays, batched = propagation(logs, 5)
    assert delays == [0.5] and batched == 3  # node 2 took 6 to 8 by sync
    assert propagation(logs, 6)[0] == []  # below the first block asked for
    assert propagation(logs, 1, empty=True)[0] == []  # block 6 never reached node 2 by gossip
