// A Hardhat 2 project with Solidity sources and mocha tests, as `npx hardhat init` lays one out
// (hardhat-ethers, chai and hardhat-chai-matchers). `npx hardhat test` runs its tests on the
// in-process Hardhat Network; `npx hardhat test --network supervm` runs the same tests, unchanged,
// against a SuperVM node at SUPERVM_RPC_URL (the pytest fixture starts one).
//
// Two things differ from a fresh project, both about the machine, not SuperVM:
// - the compiler is solc-js from node_modules (the npm package `solc`), through Hardhat's
//   documented TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD override, so nothing is downloaded;
// - the cache and artifacts go where HARDHAT_CACHE_DIR says (a temporary folder in the tests).
const path = require("node:path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const solcjs = require("solc");

const SOLC_VERSION = solcjs.version().split("+")[0];
const work = process.env.HARDHAT_CACHE_DIR || __dirname;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    return runSuper(args);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solcjs.version().replace(/\.Emscripten\.clang$/, ""),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      // SuperVM's EVM backend runs Cancun (docs/evm.md); solc 0.8.37 defaults to osaka.
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    hardhat: { hardfork: "cancun" },
    supervm: {
      url: process.env.SUPERVM_RPC_URL || "http://127.0.0.1:8545/",
      chainId: 31337,
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
      },
      timeout: 60_000,
    },
  },
  paths: {
    cache: path.join(work, "cache"),
    artifacts: path.join(work, "artifacts"),
  },
  mocha: { timeout: 120_000 },
};
