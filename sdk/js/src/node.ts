// Starting and stopping `supervm node --dev` from JavaScript, for tests and scripts: spawn the
// `supervm` command, wait for the line it prints once every service is running, and stop it
// with SIGINT (what Ctrl-C sends) so that it shuts down cleanly.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import type { HDNodeWallet, JsonRpcProvider, WebSocketProvider } from "ethers";

import { DEV_CHAIN_ID, connect, connectWebSocket, devWallet, devWallets } from "./dev.js";

/** What the node prints once it serves (the same words as `npx hardhat node`). */
export const SERVING = /Started HTTP and WebSocket JSON-RPC server at (http:\/\/\S+)/;

/** Options of {@link startDevNode}. */
export interface DevNodeOptions {
  /** The `supervm` command; default: `$SUPERVM`, then `supervm` on `PATH`, then `.venv/bin/supervm` above `cwd`. */
  readonly command?: string;
  /** The JSON-RPC port (default 0: a free one, read back from the node's output). */
  readonly port?: number;
  readonly host?: string;
  /** Seconds between blocks (default 0: a block as soon as transactions arrive). */
  readonly blockTime?: number;
  /** Keep the chain in this directory (default: a temporary one the node removes). */
  readonly dataDir?: string;
  /** More arguments for `supervm node`. */
  readonly args?: readonly string[];
  /** The node's working directory (default: `process.cwd()`). */
  readonly cwd?: string;
  /** The node's environment (default: `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Milliseconds to wait for the node to serve (default 60000). */
  readonly startTimeoutMs?: number;
  /** Called with each line the node writes (stdout and stderr), e.g. `console.log`. */
  readonly onOutput?: (line: string) => void;
}

/** A running dev node. */
export interface DevNode {
  /** The HTTP JSON-RPC URL, `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** The WebSocket URL on the same port, `ws://127.0.0.1:PORT/`. */
  readonly wsUrl: string;
  readonly chainId: number;
  readonly process: ChildProcess;
  /** A new HTTP provider for the node (see {@link connect}). */
  provider(): JsonRpcProvider;
  /** A new WebSocket provider for the node; destroy it when done. */
  wsProvider(): WebSocketProvider;
  /** Dev account `index`'s wallet, connected to `provider` (default: a new HTTP provider). */
  signer(index?: number, provider?: JsonRpcProvider): HDNodeWallet;
  /** All ten dev wallets, connected to one new HTTP provider. */
  signers(): HDNodeWallet[];
  /** The output lines so far (for error messages). */
  output(): string;
  /** Stop the node (SIGINT, then SIGKILL after `timeoutMs`); resolves with its exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the `supervm` command is: `command` if given, `$SUPERVM`, `supervm` on `PATH`, or a
 * SuperVM checkout's `.venv/bin/supervm` in `cwd` or above it.
 *
 * @throws Error saying where it looked.
 */
export function findSupervm(command?: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (command !== undefined && command !== "") return command;
  if (env.SUPERVM) return env.SUPERVM;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && executable(join(dir, "supervm"))) return join(dir, "supervm");
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, ".venv", "bin", "supervm");
    if (executable(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    "cannot find the supervm command: not in $SUPERVM, not on PATH, and no .venv/bin/supervm in " +
      `${resolve(cwd)} or above it (install SuperVM, or pass its path as the command option)`,
  );
}

/**
 * Start `supervm node --dev` and resolve once it serves JSON-RPC.
 *
 * @throws Error with the node's output when it exits first or does not serve in time.
 */
export async function startDevNode(options: DevNodeOptions = {}): Promise<DevNode> {
  const cwd = options.cwd ?? process.cwd();
  const command = findSupervm(options.command, cwd, options.env ?? process.env);
  const args = ["node", "--dev", "--rpc-port", String(options.port ?? 0)];
  if (options.host !== undefined) args.push("--rpc-host", options.host);
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  if (options.dataDir !== undefined) args.push("--data-dir", options.dataDir);
  args.push(...(options.args ?? []));
  const child = spawn(command, args, { cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((res) => {
    child.once("exit", (code, signal) => {
      exited = code ?? (signal ? null : code);
      res(exited);
    });
  });
  const url = await new Promise<string>((res, rej) => {
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`supervm node did not serve within ${timeoutMs} ms\n${lines.slice(-40).join("\n")}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      options.onOutput?.(line);
      const match = SERVING.exec(line);
      if (match) {
        clearTimeout(timer);
        res(match[1]!);
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = "";
      stream.setEncoding("utf8");
      // Keep reading after the node serves: a pipe nobody reads fills up and blocks the node.
      stream.on("data", (chunk: string) => {
        buffered += chunk;
        let end;
        while ((end = buffered.indexOf("\n")) >= 0) {
          onLine(buffered.slice(0, end));
          buffered = buffered.slice(end + 1);
        }
      });
    }
    child.once("error", (error) => {
      clearTimeout(timer);
      rej(new Error(`cannot run ${command}: ${error.message}`));
    });
    void exit.then((code) => {
      clearTimeout(timer);
      rej(new Error(`supervm node exited with code ${code} before serving JSON-RPC\n${lines.slice(-40).join("\n")}`));
    });
  });
  const wsUrl = url.replace(/^http/, "ws");
  return {
    url,
    wsUrl,
    chainId: DEV_CHAIN_ID,
    process: child,
    provider: () => connect(url),
    wsProvider: () => connectWebSocket(wsUrl),
    signer: (index = 0, provider?: JsonRpcProvider) => devWallet(index, provider ?? connect(url)),
    signers: () => devWallets(connect(url)),
    output: () => lines.join("\n"),
    stop: async (timeoutMs = 10_000) => {
      if (exited !== undefined) return exited;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
