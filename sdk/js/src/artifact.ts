// SuperVM artifacts: the one format `supervm compile` writes for every contract, WASM and EVM
// alike (kernel/src/supervm/schemas/artifact.schema.json). Hardhat artifacts (what
// @supervm/hardhat-plugin and solc write under artifacts/) are accepted too, so one loader serves
// both kinds of project.
import { readFileSync } from "node:fs";
import type { JsonFragment } from "ethers";

/** What a create transaction's code runs on. */
export type ArtifactKind = "wasm" | "evm";

/** One compiled contract, as `supervm compile` writes it (`build/<Name>.json`). */
export interface SuperVMArtifact<A extends readonly JsonFragment[] = readonly JsonFragment[]> {
  /** The contract name (and the artifact's file name). */
  readonly name: string;
  /** `wasm`: `bytecode` is a WebAssembly module ending with the `supervm.end` section; `evm`: creation code. */
  readonly kind: ArtifactKind;
  /** The standard Ethereum JSON ABI. */
  readonly abi: A;
  /** 0x-hex of what a create transaction deploys (before the constructor arguments). */
  readonly bytecode: string;
  /** EVM only: the runtime code the creation code returns. */
  readonly deployed_bytecode?: string | null;
  /** 0x-hex Keccak-256 of `bytecode`. */
  readonly code_hash?: string;
  /** Source path -> 0x-hex Keccak-256 of its contents. */
  readonly source_hashes?: Readonly<Record<string, string>>;
  /** The compiler and its exact version. */
  readonly compiler?: { readonly name: string; readonly version: string };
  /** The settings the compiler ran with. */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** The WebAssembly magic number and version, `\0asm` 1: how a WASM module starts. */
const WASM_PREFIX = "0x0061736d";
const HEX = /^0x([0-9a-fA-F]{2})*$/;

/** An artifact that cannot be used: names the file (if any) and what is wrong with it. */
export class ArtifactError extends Error {
  override readonly name = "ArtifactError";
}

function fail(where: string, problem: string): never {
  throw new ArtifactError(`${where}: ${problem}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Check a parsed JSON value and return it as an artifact.
 *
 * Accepts SuperVM artifacts (`name`, `kind`, `abi`, `bytecode`) and Hardhat artifacts
 * (`_format: "hh-sol-artifact-1"`, `contractName`, `abi`, `bytecode`); a Hardhat artifact's kind
 * is read from its bytecode (a WebAssembly module is `wasm`, anything else `evm`).
 *
 * @param value the parsed JSON.
 * @param where how to name it in errors (the file's path, or "artifact").
 */
export function parseArtifact(value: unknown, where = "artifact"): SuperVMArtifact {
  if (!isRecord(value)) fail(where, "not a JSON object");
  const hardhat = typeof value._format === "string" && value._format.startsWith("hh-");
  const name = hardhat ? value.contractName : value.name;
  if (typeof name !== "string" || name === "") {
    fail(where, `no contract name (the "${hardhat ? "contractName" : "name"}" field)`);
  }
  if (!Array.isArray(value.abi)) fail(where, `"abi" must be a JSON array (the Ethereum ABI)`);
  for (const [i, entry] of value.abi.entries()) {
    if (!isRecord(entry) || typeof entry.type !== "string") {
      fail(where, `abi entry ${i} is not an object with a "type"`);
    }
  }
  const bytecode = value.bytecode;
  if (typeof bytecode !== "string" || !HEX.test(bytecode) || bytecode.length <= 2) {
    fail(where, `"bytecode" must be 0x-prefixed hex of whole bytes, not ${JSON.stringify(bytecode)?.slice(0, 40)}`);
  }
  const isModule = bytecode.toLowerCase().startsWith(WASM_PREFIX);
  let kind: ArtifactKind;
  if (hardhat) {
    kind = isModule ? "wasm" : "evm";
  } else if (value.kind === "wasm" || value.kind === "evm") {
    kind = value.kind;
  } else {
    fail(where, `"kind" must be "wasm" or "evm", not ${JSON.stringify(value.kind)}`);
  }
  if (kind === "wasm" && !isModule) {
    fail(where, `a wasm artifact's bytecode must be a WebAssembly module (start with ${WASM_PREFIX})`);
  }
  const deployed = hardhat ? value.deployedBytecode : value.deployed_bytecode;
  return {
    ...(hardhat ? {} : value),
    name,
    kind,
    abi: value.abi as JsonFragment[],
    bytecode: bytecode.toLowerCase(),
    deployed_bytecode: typeof deployed === "string" && deployed !== "0x" ? deployed : null,
  } as SuperVMArtifact;
}

/**
 * Load an artifact from a file path, or check an artifact object already in memory.
 *
 * @param source a path to `<Name>.json` (SuperVM or Hardhat format) or the parsed object.
 * @throws ArtifactError naming the file and the problem.
 */
export function loadArtifact<A extends readonly JsonFragment[] = readonly JsonFragment[]>(
  source: string | SuperVMArtifact<A> | Record<string, unknown>,
): SuperVMArtifact<A> {
  if (typeof source !== "string") return parseArtifact(source) as SuperVMArtifact<A>;
  let text: string;
  try {
    text = readFileSync(source, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(source, code === "ENOENT" ? "no such file (run `supervm compile` first?)" : String(error));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(source, `not JSON: ${(error as Error).message}`);
  }
  return parseArtifact(parsed, source) as SuperVMArtifact<A>;
}
