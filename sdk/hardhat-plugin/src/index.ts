// @supervm/hardhat-plugin: `require("@supervm/hardhat-plugin")` in hardhat.config.js.
import { extendConfig, subtask, task, types } from "hardhat/config";
import { TASK_COMPILE_GET_COMPILATION_TASKS, TASK_TEST } from "hardhat/builtin-tasks/task-names";

import "./type-extensions";
import { TASK_COMPILE_SUPERVM, compileAssemblyScript } from "./compile";
import { resolveConfig } from "./config";
import { runNodeForever, withNodeForTests } from "./node-task";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require("@supervm/js") as typeof import("@supervm/js");

export { DEFAULT_URL, DEV_CHAIN_ID, DEV_MNEMONIC, NETWORK } from "./config";
export { TASK_COMPILE_SUPERVM, formatCompilerOutput, toHardhatArtifact } from "./compile";
export { startNode } from "./node-task";
export type { SupervmConfig, SupervmUserConfig } from "./type-extensions";

export const TASK_NODE_SUPERVM = "supervm:node";

extendConfig((config, userConfig) => resolveConfig(config, userConfig));

subtask(TASK_COMPILE_GET_COMPILATION_TASKS, async (_args, _hre, runSuper): Promise<string[]> => {
  const others = (await runSuper()) as string[];
  return [...others, TASK_COMPILE_SUPERVM];
});

subtask(TASK_COMPILE_SUPERVM, "Compiles the AssemblyScript contracts with SuperVM")
  .addFlag("force", "Compile even if nothing changed")
  .addFlag("quiet", "Say less")
  .addOptionalParam("concurrency", "Ignored (one supervm compile runs all contracts)", undefined, types.int)
  .setAction(async ({ force, quiet }: { force: boolean; quiet: boolean }, hre) => {
    await compileAssemblyScript(hre.config, hre.artifacts, { force, quiet, findCommand: sdk.findSupervm });
  });

task(TASK_TEST).setAction(async (args, hre, runSuper) => withNodeForTests(hre, () => runSuper(args)));

task(TASK_NODE_SUPERVM, "Runs a SuperVM dev node (supervm node --dev) until Ctrl-C")
  .addOptionalParam("port", "The JSON-RPC port (default: the supervm network URL's; 0: any free one)", undefined, types.int)
  .addOptionalParam("blockTime", "Seconds between blocks (default: a block as soon as transactions arrive)", undefined, types.float)
  .setAction(async ({ port, blockTime }: { port?: number; blockTime?: number }, hre) => {
    await runNodeForever(hre, port, blockTime);
  });
