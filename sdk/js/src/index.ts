// @supervm/js: deploy and call SuperVM contracts (WASM and EVM) with ethers v6.
export { ArtifactError, loadArtifact, parseArtifact } from "./artifact.js";
export type { ArtifactKind, SuperVMArtifact } from "./artifact.js";
export { attach, contractFactory, deploy, deployData, registerArtifact, withRevertDecoding } from "./contract.js";
export type { ArtifactSource, DeployOverrides, Deployment } from "./contract.js";
export {
  ContractRevertError,
  ERROR_SELECTOR,
  PANIC_REASONS,
  PANIC_SELECTOR,
  asRevertError,
  decodeRevert,
  isRevert,
  revertDataOf,
} from "./errors.js";
export type { DecodedRevert, RevertKind } from "./errors.js";
export { queryEvents, waitForEvent, watchEvents } from "./events.js";
export type { ContractEvent, Unwatch, WatchOptions } from "./events.js";
export {
  DEV_ACCOUNT_COUNT,
  DEV_BALANCE,
  DEV_CHAIN_ID,
  DEV_MNEMONIC,
  DEV_PATH,
  connect,
  connectWebSocket,
  devAccounts,
  devWallet,
  devWallets,
} from "./dev.js";
export type { ConnectOptions, DevAccount } from "./dev.js";
export { SERVING, findSupervm, startDevNode } from "./node.js";
export type { DevNode, DevNodeOptions } from "./node.js";
export type { AbiInput, AbiOutput, AbiParameter, ConstructorArgs, ContractMethods, SuperVMContract } from "./types.js";
