// `hardhat compile` for AssemblyScript: every `.ts` contract under `paths.sources` is compiled by
// `supervm compile` (asc with the @supervm/sdk transform) and written as a Hardhat artifact, so
// `ethers.getContractFactory("Token")`, `artifacts.readArtifact` and every plugin reading
// artifacts treat a WASM contract as they treat a Solidity one. Solidity sources are left to
// Hardhat's own compile task; this is the second compilation task, as hardhat-vyper adds one.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { HardhatPluginError } from "hardhat/plugins";
import type { Artifact, Artifacts, HardhatConfig } from "hardhat/types";

export const PLUGIN = "@supervm/hardhat-plugin";
export const TASK_COMPILE_SUPERVM = "compile:supervm";
const CACHE_FORMAT = "supervm-files-cache-1";
const SKIP = new Set(["node_modules", ".git", "artifacts", "cache", "build"]);

/** A SuperVM artifact as `supervm compile` writes it (the fields used here). */
interface SupervmArtifact {
  name: string;
  kind: "wasm" | "evm";
  abi: unknown[];
  bytecode: string;
  deployed_bytecode?: string | null;
  source_hashes: Record<string, string>;
  compiler: { name: string; version: string };
}

interface FilesCache {
  _format: string;
  settings: string;
  files: Record<string, string>;
  artifacts: { sourceName: string; contractName: string }[];
}

/** The AssemblyScript sources under `dir`: `.ts` files, not `.d.ts`, outside node_modules. */
export function findSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(path);
    }
  };
  walk(dir);
  return found.sort();
}

/** `path` relative to the project root with forward slashes: a Hardhat source name. */
export function sourceName(root: string, path: string): string {
  const rel = relative(root, isAbsolute(path) ? path : resolve(root, path));
  return rel.split(sep).join("/");
}

/** The Hardhat artifact for a SuperVM artifact compiled from `source`. */
export function toHardhatArtifact(artifact: SupervmArtifact, source: string): Artifact {
  // The chain stores a WASM module as it was deployed (the constructor arguments are cut off at
  // its supervm.end section), so the code at the contract's address is the bytecode itself.
  const deployed = artifact.kind === "wasm" ? artifact.bytecode : artifact.deployed_bytecode ?? "0x";
  return {
    _format: "hh-sol-artifact-1",
    contractName: artifact.name,
    sourceName: source,
    abi: artifact.abi,
    bytecode: artifact.bytecode,
    deployedBytecode: deployed,
    linkReferences: {},
    deployedLinkReferences: {},
  };
}

const LOCATED = /^(?:error: )?(.+?):(\d+):(\d+): (ERROR|WARNING) ((?:AS|TS)\d+): (.*)$/i;

/**
 * `supervm compile`'s errors as Hardhat shows solc's: the message, then `--> file:line:column:`
 * and the source line with a caret under the column.
 */
export function formatCompilerOutput(output: string, root: string): string[] {
  const messages: string[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trimEnd();
    if (line === "") continue;
    const match = LOCATED.exec(line);
    if (match === null) {
      messages.push(line.replace(/^error: /i, ""));
      continue;
    }
    const [, file, lineText, columnText, severity, code, message] = match as unknown as string[];
    const lineNo = Number(lineText);
    const column = Number(columnText);
    let excerpt = "";
    try {
      const source = readFileSync(resolve(root, file!), "utf8").split("\n")[lineNo - 1];
      if (source !== undefined) {
        const gutter = " ".repeat(String(lineNo).length);
        excerpt = `\n${gutter} |\n${lineNo} | ${source}\n${gutter} | ${" ".repeat(Math.max(column - 1, 0))}^`;
      }
    } catch {
      // The file is gone or unreadable: the location alone still says where.
    }
    const kind = severity!.toUpperCase() === "ERROR" ? "TypeError" : "Warning";
    messages.push(`${kind} ${code}: ${message}\n  --> ${file}:${lineNo}:${column}:${excerpt}`);
  }
  return messages;
}

function hashFile(path: string): string {
  return createHash("sha256").update(readFileSync(path, "utf8")).digest("hex");
}

function readCache(path: string): FilesCache | undefined {
  try {
    const cache = JSON.parse(readFileSync(path, "utf8")) as FilesCache;
    return cache._format === CACHE_FORMAT ? cache : undefined;
  } catch {
    return undefined;
  }
}

function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code === "string") {
        rej(new HardhatPluginError(PLUGIN, `cannot run ${command}: ${error.message}`));
        return;
      }
      res({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Options of {@link compileAssemblyScript}. */
export interface CompileOptions {
  readonly force: boolean;
  readonly quiet: boolean;
  /** Resolves the `supervm` command (the plugin passes @supervm/js's findSupervm). */
  readonly findCommand: (given: string | undefined, cwd: string) => string;
  readonly log?: (line: string) => void;
}

/** Compile the project's AssemblyScript contracts into Hardhat artifacts (the compile:supervm subtask). */
export async function compileAssemblyScript(config: HardhatConfig, artifacts: Artifacts, options: CompileOptions): Promise<string[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const root = config.paths.root;
  const sources = findSources(config.paths.sources);
  if (sources.length === 0) return [];
  const files: Record<string, string> = {};
  for (const path of sources) files[sourceName(root, path)] = hashFile(path);
  const settings = JSON.stringify({ optimize: config.supervm.optimize, nodeModules: config.supervm.nodeModules ?? null });
  const cachePath = join(config.paths.cache, "supervm-files-cache.json");
  const cache = readCache(cachePath);
  const artifactPath = (a: { sourceName: string; contractName: string }) =>
    join(config.paths.artifacts, ...a.sourceName.split("/"), `${a.contractName}.json`);
  const valid = (list: { sourceName: string; contractName: string }[]) => {
    const bySource = new Map<string, string[]>();
    for (const a of list) bySource.set(a.sourceName, [...(bySource.get(a.sourceName) ?? []), a.contractName]);
    // Keep them when Hardhat removes obsolete artifacts after compiling (the non-public API
    // Hardhat's own Solidity task and hardhat-vyper use).
    (artifacts as unknown as { addValidArtifacts(v: { sourceName: string; artifacts: string[] }[]): void }).addValidArtifacts(
      [...bySource].map(([name, contracts]) => ({ sourceName: name, artifacts: contracts })),
    );
  };
  if (!options.force && cache !== undefined && cache.settings === settings && sameFiles(cache.files, files) && cache.artifacts.every((a) => existsSync(artifactPath(a)))) {
    valid(cache.artifacts);
    if (!options.quiet) log("Nothing to compile (AssemblyScript)");
    return cache.artifacts.map((a) => a.contractName);
  }

  const command = options.findCommand(config.supervm.command, root);
  const out = mkdtempSync(join(tmpdir(), "supervm-hardhat-"));
  try {
    const args = ["compile", ...sources.map((p) => sourceName(root, p)), "--out", out];
    if (config.supervm.optimize) args.push("--optimize");
    if (config.supervm.nodeModules !== undefined) args.push("--node-modules", resolve(root, config.supervm.nodeModules));
    const result = await run(command, args, root);
    if (result.code !== 0) {
      const messages = formatCompilerOutput(result.stderr || result.stdout, root);
      for (const message of messages) console.error(`${message}\n`);
      throw new HardhatPluginError(PLUGIN, `AssemblyScript compilation failed (${command} compile exited with ${result.code})`);
    }
    const written = result.stdout
      .split("\n")
      .map((line) => /^wrote (.+\.json)$/.exec(line.trim())?.[1])
      .filter((p): p is string => p !== undefined);
    const emitted: { sourceName: string; contractName: string }[] = [];
    for (const path of written) {
      const artifact = JSON.parse(readFileSync(path, "utf8")) as SupervmArtifact;
      const entry = Object.keys(artifact.source_hashes)[0];
      if (entry === undefined) throw new HardhatPluginError(PLUGIN, `${path}: the artifact names no source file`);
      const name = sourceName(root, entry);
      await artifacts.saveArtifactAndDebugFile(toHardhatArtifact(artifact, name));
      emitted.push({ sourceName: name, contractName: artifact.name });
    }
    valid(emitted);
    mkdirSync(config.paths.cache, { recursive: true });
    const next: FilesCache = { _format: CACHE_FORMAT, settings, files, artifacts: emitted };
    writeFileSync(cachePath, JSON.stringify(next, null, 2) + "\n");
    if (!options.quiet) {
      const n = emitted.length;
      log(`Compiled ${n} AssemblyScript contract${n === 1 ? "" : "s"} with SuperVM (${sources.length} file${sources.length === 1 ? "" : "s"})`);
    }
    return emitted.map((a) => a.contractName);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
