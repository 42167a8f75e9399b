// Tests of @supervm/js that need no node: artifacts, revert decoding, the create transaction's
// data, the dev accounts, finding the supervm command, and the CommonJS build.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AbiCoder, Interface, concat, id } from "ethers";

import {
  ArtifactError,
  ContractRevertError,
  DEV_CHAIN_ID,
  asRevertError,
  decodeRevert,
  deployData,
  devAccounts,
  devWallet,
  findSupervm,
  loadArtifact,
  revertDataOf,
} from "../dist/esm/index.js";

const coder = AbiCoder.defaultAbiCoder();
// "supervm.end" as a WASM custom section: id 0, size 12, name length 11, the name.
const END_MARKER = "000c0b" + Buffer.from("supervm.end").toString("hex");
// The smallest module: magic, version, then the marker section.
const MODULE = "0x0061736d01000000" + END_MARKER;
const ABI = [
  { type: "constructor", inputs: [{ name: "name", type: "string" }, { name: "supply", type: "uint256" }], stateMutability: "nonpayable" },
  { type: "error", name: "TooLarge", inputs: [{ name: "value", type: "uint256" }, { name: "limit", type: "uint256" }] },
];
const ARTIFACT = { name: "Tiny", kind: "wasm", abi: ABI, bytecode: MODULE, code_hash: "0x" + "00".repeat(32), source_hashes: {}, compiler: { name: "x", version: "1" }, settings: {} };

function tempFile(name, text) {
  const path = join(mkdtempSync(join(tmpdir(), "supervm-js-")), name);
  writeFileSync(path, text);
  return path;
}

describe("loadArtifact", () => {
  test("reads a SuperVM artifact file", () => {
    const artifact = loadArtifact(tempFile("Tiny.json", JSON.stringify(ARTIFACT)));
    assert.equal(artifact.name, "Tiny");
    assert.equal(artifact.kind, "wasm");
    assert.equal(artifact.bytecode, MODULE);
    assert.deepEqual(artifact.abi, ABI);
  });

  test("reads a Hardhat artifact and infers its kind from the bytecode", () => {
    const wasm = loadArtifact({ _format: "hh-sol-artifact-1", contractName: "T", sourceName: "contracts/T.ts", abi: [], bytecode: MODULE, deployedBytecode: MODULE, linkReferences: {}, deployedLinkReferences: {} });
    assert.equal(wasm.kind, "wasm");
    assert.equal(wasm.name, "T");
    const evm = loadArtifact({ _format: "hh-sol-artifact-1", contractName: "S", abi: [], bytecode: "0x6080", deployedBytecode: "0x60" });
    assert.equal(evm.kind, "evm");
    assert.equal(evm.deployed_bytecode, "0x60");
  });

  test("names the file and the problem", () => {
    const missing = join(tmpdir(), "no-such-dir-supervm", "X.json");
    assert.throws(() => loadArtifact(missing), (e) => e instanceof ArtifactError && e.message.startsWith(missing) && /no such file/.test(e.message));
    const notJson = tempFile("Bad.json", "{nope");
    assert.throws(() => loadArtifact(notJson), (e) => e instanceof ArtifactError && e.message.includes(notJson) && /not JSON/.test(e.message));
    assert.throws(() => loadArtifact({ ...ARTIFACT, kind: "jvm" }), /"kind" must be "wasm" or "evm"/);
    assert.throws(() => loadArtifact({ ...ARTIFACT, abi: {} }), /"abi" must be a JSON array/);
    assert.throws(() => loadArtifact({ ...ARTIFACT, bytecode: "0x123" }), /"bytecode" must be 0x-prefixed hex/);
    assert.throws(() => loadArtifact({ ...ARTIFACT, bytecode: "0x6080" }), /must be a WebAssembly module/);
    assert.throws(() => loadArtifact({ ...ARTIFACT, name: "" }), /no contract name/);
  });
});

describe("deployData", () => {
  test("is the module, ending with supervm.end, followed by the encoded constructor arguments", async () => {
    const data = await deployData(ARTIFACT, ["Token", 1000n]);
    const args = coder.encode(["string", "uint256"], ["Token", 1000n]);
    assert.equal(data, concat([MODULE, args]));
    assert.ok(data.slice(2, 2 + (MODULE.length - 2)).endsWith(END_MARKER));
  });

  test("checks the arguments against the constructor", async () => {
    await assert.rejects(deployData(ARTIFACT, ["Token"]), /incorrect number of arguments|missing argument/i);
  });
});

describe("decodeRevert", () => {
  test("Error(string)", () => {
    const data = concat(["0x08c379a0", coder.encode(["string"], ["no way"])]);
    const decoded = decodeRevert(data);
    assert.equal(decoded.kind, "Error");
    assert.equal(decoded.reason, "no way");
    assert.deepEqual(decoded.args, ["no way"]);
  });

  test("Panic(uint256) with its meaning", () => {
    const decoded = decodeRevert(concat(["0x4e487b71", coder.encode(["uint256"], [0x11n])]));
    assert.equal(decoded.kind, "Panic");
    assert.equal(decoded.panicCode, 0x11n);
    assert.equal(decoded.reason, "Panic(0x11): arithmetic overflow or underflow");
  });

  test("custom errors from the ABI", () => {
    const iface = new Interface(ABI);
    const data = iface.encodeErrorResult("TooLarge", [7n, 5n]);
    assert.equal(data.slice(0, 10), id("TooLarge(uint256,uint256)").slice(0, 10));
    for (const abi of [ABI, iface]) {
      const decoded = decodeRevert(data, abi);
      assert.equal(decoded.kind, "custom");
      assert.equal(decoded.errorName, "TooLarge");
      assert.equal(decoded.signature, "TooLarge(uint256,uint256)");
      assert.deepEqual(decoded.args, [7n, 5n]);
      assert.equal(decoded.reason, "TooLarge(7, 5)");
    }
    // Without the ABI the same data is unknown.
    assert.equal(decodeRevert(data).kind, "unknown");
  });

  test("empty and undecodable data", () => {
    assert.equal(decodeRevert("0x").kind, "empty");
    assert.equal(decodeRevert(undefined).kind, "empty");
    assert.equal(decodeRevert("0x08c379a0ffff").kind, "unknown");
    assert.equal(decodeRevert("0xdeadbeef", ABI).kind, "unknown");
  });

  test("finds the data in the errors ethers and JSON-RPC nest it in", () => {
    const data = concat(["0x08c379a0", coder.encode(["string"], ["deep"])]);
    assert.equal(revertDataOf({ code: "CALL_EXCEPTION", data }), data);
    assert.equal(revertDataOf({ code: "UNKNOWN_ERROR", error: { code: 3, message: "execution reverted: deep", data } }), data);
    assert.equal(revertDataOf({ info: { error: { code: 3, data } } }), data);
    assert.equal(revertDataOf({ code: -32000, message: "nonce too low", data: "0x" }), undefined);
    const error = asRevertError({ code: "CALL_EXCEPTION", data, message: "x" });
    assert.ok(error instanceof ContractRevertError);
    assert.equal(error.reason, "deep");
    assert.equal(error.message, "execution reverted: deep");
    const other = new Error("nonce too low");
    assert.equal(asRevertError(other), other);
  });
});

describe("dev accounts", () => {
  test("are the mnemonic's first ten accounts", () => {
    const accounts = devAccounts();
    assert.equal(accounts.length, 10);
    assert.equal(accounts[0].address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    assert.equal(accounts[0].privateKey, "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    assert.equal(accounts[9].address, "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720");
    assert.equal(devWallet(9).address, accounts[9].address);
    assert.equal(new Set(accounts.map((a) => a.address)).size, 10);
    assert.equal(DEV_CHAIN_ID, 31337);
    assert.throws(() => devWallet(-1), RangeError);
  });
});

describe("findSupervm", () => {
  test("takes the option, then $SUPERVM, then PATH, then .venv/bin above cwd", () => {
    assert.equal(findSupervm("/opt/x/supervm"), "/opt/x/supervm");
    assert.equal(findSupervm(undefined, "/", { SUPERVM: "/y/supervm", PATH: "" }), "/y/supervm");
    const root = mkdtempSync(join(tmpdir(), "supervm-find-"));
    const bin = join(root, ".venv", "bin");
    const nested = join(root, "a", "b");
    mkdirSync(bin, { recursive: true });
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(bin, "supervm"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(findSupervm(undefined, nested, { PATH: "" }), join(bin, "supervm"));
    assert.equal(findSupervm(undefined, nested, { PATH: bin }), join(bin, "supervm"));
    assert.throws(() => findSupervm(undefined, tmpdir(), { PATH: "" }), /cannot find the supervm command/);
  });
});

describe("the CommonJS build", () => {
  test("require('@supervm/js') gives the same API", () => {
    const require = createRequire(import.meta.url);
    const cjs = require("@supervm/js");
    assert.equal(require.resolve("@supervm/js").split("/").slice(-3).join("/"), "dist/cjs/index.js");
    assert.equal(typeof cjs.deploy, "function");
    assert.equal(cjs.decodeRevert("0x").kind, "empty");
    assert.equal(cjs.DEV_MNEMONIC, "test test test test test test test test test test test junk");
  });
});
