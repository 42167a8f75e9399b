// The SDK's own tests, run with `npm test` (node tests/run.mjs): the transform's keccak and type
// mapping, and the test contracts compiled with asc + the transform and run in Node's
// WebAssembly engine against a small in-memory mock of SuperVM's host ABI.
//
// The Python suite (plugins/compiler_assemblyscript/tests) runs the same contracts on SuperVM's
// real WASM runtime and checks the ABI codec against eth-abi.
import test from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { keccak256, toHex } from "../transform/keccak.js";
import { resolveType, functionSignature } from "../transform/abi.js";

const SDK = join(dirname(fileURLToPath(import.meta.url)), "..");
const ABORT = "abort=~lib/@supervm/sdk/assembly/revert/__supervm_abort";

const hex = (s) => Uint8Array.from(Buffer.from(s.replace(/^0x/, ""), "hex"));
const word = (n) => hex(BigInt(n).toString(16).padStart(64, "0"));
const selector = (sig) => keccak256(sig).subarray(0, 4);
const concat = (...parts) => Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));

// -- the transform's helpers ---------------------------------------------------------------------

test("keccak256 matches Ethereum's", () => {
  assert.equal(toHex(keccak256("")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  assert.equal(toHex(keccak256("Transfer(address,address,uint256)")),
    "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
  assert.equal(toHex(selector("transfer(address,uint256)")), "a9059cbb");
  // Multi-block input (more than 136 bytes).
  assert.equal(toHex(keccak256("a".repeat(300))),
    "5b7e0e47a96f32a88b4f14ca177982790807c40e1a105742ba0fc1babe1ef826");
});

test("AssemblyScript types map to ABI types", () => {
  const abi = (t) => resolveType(t).abi;
  assert.equal(abi("u8"), "uint8");
  assert.equal(abi("i64"), "int64");
  assert.equal(abi("u256"), "uint256");
  assert.equal(abi("i256"), "int256");
  assert.equal(abi("uint24"), "uint24");
  assert.equal(resolveType("uint24").as, "u32");
  assert.equal(resolveType("int72").as, "i128");
  assert.equal(resolveType("uint160").as, "u256");
  assert.equal(abi("Address"), "address");
  assert.equal(abi("string"), "string");
  assert.equal(abi("Bytes"), "bytes");
  assert.equal(abi("Uint8Array"), "bytes");
  assert.equal(abi("Bytes32"), "bytes32");
  assert.match(resolveType("f64"), /no ABI type/);
  assert.match(resolveType("uint7"), /not an ABI integer type/);
  assert.match(resolveType("Bytes33"), /Bytes1 to Bytes32/);
  assert.match(resolveType("Array<u8>"), /arrays/);
  assert.equal(functionSignature("f", [resolveType("Address"), resolveType("u256")]), "f(address,uint256)");
});

// -- compiling and running the test contracts ----------------------------------------------------

async function compile(entry) {
  const asc = await import("assemblyscript/asc");
  let wasm = null;
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(
    [entry, "--baseDir", SDK, "--outFile", "out.wasm", "--runtime", "stub", "-O3",
     "--transform", join(SDK, "transform", "index.js"), "--use", ABORT, "--noColors"],
    { stderr, writeFile: (name, contents) => { wasm = contents; return true; } },
  );
  if (error) throw new Error(stderr.toString());
  const module = await WebAssembly.compile(wasm);
  const [section] = WebAssembly.Module.customSections(module, "supervm.abi");
  return { module, meta: JSON.parse(Buffer.from(section).toString("utf8")) };
}

class Reverted extends Error {
  constructor(data) {
    super("revert 0x" + Buffer.from(data).toString("hex"));
    this.data = data;
  }
}

/** A mock of SuperVM's host: one contract's storage, call data, return data and logs. */
class Host {
  constructor() {
    this.storage = new Map();
    this.caller = new Uint8Array(20).fill(0xc4);
    this.self = new Uint8Array(20).fill(0x5e);
    this.value = 0n;
    // Calls to other contracts: `onCall({ kind, to, input, value, gas })` returns
    // `{ status, data }` (0 success, 1 failure); every call is recorded in `calls`.
    this.onCall = () => ({ status: 0, data: new Uint8Array(0) });
    this.calls = [];
  }

  async run(module, entry, input) {
    let memory = null;
    const mem = () => new Uint8Array(memory.buffer);
    const read = (p, n) => mem().slice(p, p + n);
    let pending = null;
    const out = { returnData: new Uint8Array(0), logs: [] };
    const key = (p, n) => Buffer.from(read(p, n)).toString("hex");
    let returned = new Uint8Array(0);
    const be = (b) => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
    const call = (kind, ap, ip, n, value, gas) => {
      const message = { kind, to: read(ap, 20), input: read(ip, n), value, gas };
      this.calls.push(message);
      const { status, data } = this.onCall(message);
      returned = data;
      return status;
    };
    const supervm = {
      call_contract: (ap, ip, n, vp, gas) => call("call", ap, ip, n, be(read(vp, 32)), gas),
      call_static: (ap, ip, n, gas) => call("static", ap, ip, n, 0n, gas),
      call_delegate: (ap, ip, n, gas) => call("delegate", ap, ip, n, 0n, gas),
      return_data_len: () => returned.length,
      read_return_data: (p) => mem().set(returned, p),
      call_value: (p) => mem().set(word(this.value), p),
      storage_get: (p, n) => {
        pending = this.storage.get(key(p, n)) ?? null;
        return pending === null ? -1n : BigInt(pending.length);
      },
      storage_read_value: (p, n) => { const v = pending.subarray(0, n); mem().set(v, p); return v.length; },
      storage_read: (kp, kn, op, on) => {
        const v = this.storage.get(key(kp, kn));
        if (v === undefined) return -1n;
        mem().set(v.subarray(0, on), op);
        return BigInt(v.length);
      },
      storage_set: (kp, kn, vp, vn) => { this.storage.set(key(kp, kn), read(vp, vn)); return 0; },
      storage_add: (kp, kn, ap) => {
        // value += amount, both little-endian unsigned, result 32 bytes modulo 2**256
        const k = key(kp, kn);
        const le = (b) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
        const old = this.storage.get(k);
        let sum = ((old ? le(old) : 0n) + le(read(ap, 32))) % (1n << 256n);
        const out = new Uint8Array(32);
        for (let i = 0; i < 32; i++) { out[i] = Number(sum & 0xffn); sum >>= 8n; }
        this.storage.set(k, out);
        return 0;
      },
      storage_delete: (p, n) => { this.storage.delete(key(p, n)); return 0; },
      block_number: () => 1n,
      timestamp: () => 2n,
      caller: (p) => mem().set(this.caller, p),
      self_address: (p) => mem().set(this.self, p),
      input_len: () => input.length,
      read_input: (p) => mem().set(input, p),
      set_return: (p, n) => { out.returnData = read(p, n); },
      revert: (p, n) => { throw new Reverted(read(p, n)); },
      gas_left: () => 1000000n,
      emit_event: () => 0,
      events_len: () => 0,
      read_event: () => -1,
      emit_log: (tp, nt, dp, dn) => {
        const topics = [];
        for (let i = 0; i < nt; i++) topics.push(read(tp + 32 * i, 32));
        out.logs.push({ topics, data: read(dp, dn) });
        return 0;
      },
      keccak256: (p, n, o) => { mem().set(keccak256(read(p, n)), o); return 0; },
      sha256: (p, n, o) => { mem().set(createHash("sha256").update(read(p, n)).digest(), o); return 0; },
      verify_ed25519: () => 0,
      verify_secp256k1: () => 0,
      recover_secp256k1_pubkey: () => -1,
      derive_eth_address: () => -2,
    };
    const instance = await WebAssembly.instantiate(module, { supervm });
    memory = instance.exports.memory;
    if (instance.exports._initialize) instance.exports._initialize();
    instance.exports[entry]();
    return out;
  }
}

const erc20 = compile("../../examples/contracts/erc20-as/assembly/index.ts");

test("the transform generates OpenZeppelin's ERC20 ABI", async () => {
  const { meta } = await erc20;
  assert.equal(meta.contract, "ERC20");
  const sigs = meta.abi
    .filter((i) => i.type === "function")
    .map((i) => `${i.name}(${i.inputs.map((p) => p.type).join(",")})->${i.outputs.map((p) => p.type).join(",")}:${i.stateMutability}`)
    .sort();
  assert.deepEqual(sigs, [
    "allowance(address,address)->uint256:view",
    "approve(address,uint256)->bool:nonpayable",
    "balanceOf(address)->uint256:view",
    "decimals()->uint8:view",
    "name()->string:view",
    "symbol()->string:view",
    "totalSupply()->uint256:view",
    "transfer(address,uint256)->bool:nonpayable",
    "transferFrom(address,address,uint256)->bool:nonpayable",
  ]);
  const events = meta.abi.filter((i) => i.type === "event").map((i) => i.name).sort();
  assert.deepEqual(events, ["Approval", "Transfer"]);
  const ctor = meta.abi.find((i) => i.type === "constructor");
  assert.deepEqual(ctor.inputs.map((p) => p.type), ["string", "string", "uint256"]);
});

test("the ERC20 deploys, transfers, logs and reverts with a reason", async () => {
  const { module } = await erc20;
  const host = new Host();
  const str = (s) => { const b = Buffer.from(s); return concat(word(b.length), b, new Uint8Array((32 - (b.length % 32)) % 32)); };
  const ctorArgs = concat(word(96), word(160), word(1000), str("Tok"), str("TK"));
  const deployed = await host.run(module, "deploy", ctorArgs);
  assert.equal(deployed.logs.length, 1);
  assert.equal(toHex(deployed.logs[0].topics[0]), toHex(keccak256("Transfer(address,address,uint256)")));

  const bob = new Uint8Array(20).fill(0xb0);
  const transfer = concat(selector("transfer(address,uint256)"), new Uint8Array(12), bob, word(250));
  const ok = await host.run(module, "call", transfer);
  assert.deepEqual(ok.returnData, word(1));
  assert.deepEqual(ok.logs[0].topics[2], concat(new Uint8Array(12), bob));
  assert.deepEqual(ok.logs[0].data, word(250));

  const balanceOf = concat(selector("balanceOf(address)"), new Uint8Array(12), bob);
  assert.deepEqual((await host.run(module, "call", balanceOf)).returnData, word(250));

  const tooMuch = concat(selector("transfer(address,uint256)"), new Uint8Array(12), bob, word(751));
  await assert.rejects(host.run(module, "call", tooMuch), (err) => {
    assert.ok(err instanceof Reverted);
    assert.equal(toHex(err.data.subarray(0, 4)), "08c379a0");
    assert.equal(Buffer.from(err.data.subarray(68, 68 + 38)).toString(), "ERC20: transfer amount exceeds balance");
    return true;
  });
});

test("library files, events and custom errors of the SDK test contract", async () => {
  const { module, meta } = await compile("tests/contracts/AbiTypes.ts");
  assert.equal(meta.contract, "AbiTypes");
  assert.ok(meta.sources.includes("tests/contracts/events.ts"));
  const mixed = meta.abi.find((i) => i.name === "Mixed");
  assert.deepEqual(mixed.inputs.map((p) => p.indexed), [true, false, true]);
  const host = new Host();
  await assert.rejects(host.run(module, "call", concat(selector("fail(uint8)"), word(5))), (err) => {
    assert.equal(toHex(err.data), toHex(selector("Empty()")));
    return true;
  });
  const echo = await host.run(module, "call", concat(selector("echoI64(int64)"), hex("ff".repeat(32))));
  assert.deepEqual(echo.returnData, hex("ff".repeat(32)));
});

test("the vault example calls the token through the SDK's call bindings", async () => {
  const { module, meta } = await compile("../../examples/contracts/vault-as/assembly/index.ts");
  assert.equal(meta.contract, "Vault");
  const host = new Host();
  const token = new Uint8Array(20).fill(0x70);
  const addr = (a) => concat(new Uint8Array(12), a);

  // holdings(token): a static call of balanceOf(vault) on the token, decoded as uint256.
  host.onCall = () => ({ status: 0, data: word(400) });
  const held = await host.run(module, "call", concat(selector("holdings(address)"), addr(token)));
  assert.deepEqual(held.returnData, word(400));
  const [query] = host.calls;
  assert.equal(query.kind, "static");
  assert.deepEqual(query.to, token);
  assert.deepEqual(query.input, concat(selector("balanceOf(address)"), addr(host.self)));
  assert.equal(query.gas, 2n ** 63n - 1n);

  // deposit(token, 5): transferFrom(caller, vault, 5) with no value; a true result credits it.
  host.calls = [];
  host.onCall = () => ({ status: 0, data: word(1) });
  const deposit = concat(selector("deposit(address,uint256)"), addr(token), word(5));
  const ok = await host.run(module, "call", deposit);
  assert.equal(ok.logs.length, 1);
  const [pull] = host.calls;
  assert.equal(pull.kind, "call");
  assert.equal(pull.value, 0n);
  assert.deepEqual(pull.input, concat(
    selector("transferFrom(address,address,uint256)"), addr(host.caller), addr(host.self), word(5)));

  // A token that reverts: the vault reverts with the token's own revert data.
  const reason = concat(hex("08c379a0"), word(32), word(3), Buffer.from("no!"), new Uint8Array(29));
  host.onCall = () => ({ status: 1, data: reason });
  await assert.rejects(host.run(module, "call", deposit), (err) => {
    assert.ok(err instanceof Reverted);
    assert.deepEqual(err.data, reason);
    return true;
  });
});
