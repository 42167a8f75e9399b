// @supervm/hardhat-plugin: unit tests of its pieces, and Hardhat 2 itself run on test/fixture/
// (compile, the compile cache, a compiler error, `hardhat test --network supervm` starting a
// dev node, the network preset).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const plugin = require("../dist/compile.js");
const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(HERE, "fixture");
const HARDHAT = require.resolve("hardhat/internal/cli/bootstrap.js");

function hardhat(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HARDHAT, ...args],
      {
        cwd: FIXTURE,
        env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true", CI: "true", NO_COLOR: "1", FORCE_COLOR: "0", ...env },
        timeout: 120_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? error.code ?? 1 : 0, stdout, stderr }),
    );
  });
}

describe("pieces", () => {
  test("a SuperVM artifact becomes a Hardhat artifact", () => {
    const artifact = { name: "T", kind: "wasm", abi: [{ type: "function", name: "f" }], bytecode: "0x0061736d01", source_hashes: {} };
    assert.deepEqual(plugin.toHardhatArtifact(artifact, "contracts/T.ts"), {
      _format: "hh-sol-artifact-1",
      contractName: "T",
      sourceName: "contracts/T.ts",
      abi: artifact.abi,
      bytecode: "0x0061736d01",
      deployedBytecode: "0x0061736d01",
      linkReferences: {},
      deployedLinkReferences: {},
    });
    const evm = plugin.toHardhatArtifact({ ...artifact, kind: "evm", bytecode: "0x6080", deployed_bytecode: "0x60" }, "c/S.sol");
    assert.equal(evm.deployedBytecode, "0x60");
  });

  test("compiler errors are shown as Hardhat shows solc's", () => {
    const root = join(HERE, "broken");
    const [message, other] = plugin.formatCompilerOutput(
      "Error: contracts/Broken.ts:9:17: ERROR TS2339: Property 'valu' does not exist on type 'Broken'.\nsomething else\n",
      root,
    );
    assert.equal(
      message,
      "TypeError TS2339: Property 'valu' does not exist on type 'Broken'.\n" +
        "  --> contracts/Broken.ts:9:17:\n" +
        "  |\n" +
        "9 |     return this.valu.get();\n" +
        "  |                 ^",
    );
    assert.equal(other, "something else");
  });

  test("sources are the .ts files, not declarations", () => {
    const found = plugin.findSources(join(FIXTURE, "contracts")).map((p) => p.slice(FIXTURE.length + 1));
    assert.deepEqual(found, ["contracts/Greeter.ts", "contracts/lib/limits.ts"]);
  });
});

describe("hardhat", { concurrency: true }, () => {
  test("compile writes Hardhat artifacts, then has nothing to compile", async () => {
    const work = mkdtempSync(join(tmpdir(), "supervm-hh-"));
    const first = await hardhat(["compile"], { FIXTURE_WORK: work });
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /Compiled 1 AssemblyScript contract with SuperVM \(2 files\)/);
    const artifact = JSON.parse(readFileSync(join(work, "artifacts/contracts/Greeter.ts/Greeter.json"), "utf8"));
    assert.equal(artifact._format, "hh-sol-artifact-1");
    assert.equal(artifact.contractName, "Greeter");
    assert.equal(artifact.sourceName, "contracts/Greeter.ts");
    assert.ok(artifact.bytecode.startsWith("0x0061736d"));
    assert.deepEqual(artifact.abi.map((e) => e.name ?? e.type).sort(), ["constructor", "greet", "setGreeting"]);
    // The library file makes no artifact of its own.
    assert.ok(!existsSync(join(work, "artifacts/contracts/lib")));
    const second = await hardhat(["compile"], { FIXTURE_WORK: work });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /Nothing to compile \(AssemblyScript\)/);
    // Kept, not removed as obsolete by Hardhat's clean-up after compiling.
    assert.ok(existsSync(join(work, "artifacts/contracts/Greeter.ts/Greeter.json")));
  });

  test("a compiler error names the file and line, and fails the compile", async () => {
    const work = mkdtempSync(join(tmpdir(), "supervm-hh-"));
    const result = await hardhat(["compile"], { FIXTURE_WORK: work, FIXTURE_SOURCES: join(HERE, "broken", "contracts") });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /TypeError TS2339: Property 'valu' does not exist on type '[^']*Broken'/);
    assert.match(result.stderr, /--> \.\.\/broken\/contracts\/Broken\.ts:9:\d+:/);
    assert.match(result.stderr, /return this\.valu\.get\(\);\n\s+\|\s+\^/);
    assert.match(result.stderr, /AssemblyScript compilation failed/);
  });

  test("the supervm network preset", async () => {
    const result = await hardhat(["run", "--no-compile", join(HERE, "print-network.js")], { SUPERVM_RPC_URL: "" });
    assert.equal(result.code, 0, result.stderr);
    const network = JSON.parse(result.stdout.trim().split("\n").pop());
    assert.equal(network.url, "http://127.0.0.1:8545/");
    assert.equal(network.chainId, 31337);
    assert.deepEqual(network.accounts, { mnemonic: "test test test test test test test test test test test junk", initialIndex: 0, count: 10, path: "m/44'/60'/0'/0", passphrase: "" });
  });

  test("hardhat test --network supervm starts a dev node for the run and stops it", async () => {
    const work = mkdtempSync(join(tmpdir(), "supervm-hh-"));
    // Port 0 in the URL: nothing answers there, so the plugin starts a node on a free port.
    const result = await hardhat(["test", "--network", "supervm"], { FIXTURE_WORK: work, SUPERVM_RPC_URL: "http://127.0.0.1:0/" });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /Started a SuperVM dev node for the tests at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(result.stdout, /1 passing/);
    const url = /NODE_URL=(\S+)/.exec(result.stdout)[1];
    assert.notEqual(url, "http://127.0.0.1:0/");
    // Stopped with the run: nothing answers there any more.
    await assert.rejects(fetch(url, { method: "POST", body: "{}" }));
  });
});
