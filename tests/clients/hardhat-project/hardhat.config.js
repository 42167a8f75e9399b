// A Hardhat 2 project whose only network is a SuperVM node: Hardhat, hardhat-ethers and ethers
// unchanged, signing locally with the dev mnemonic's accounts (Hardhat's HD wallet).
//
// It has no Solidity sources: the contract it deploys is the WASM ERC20 artifact that
// `supervm compile` wrote (SUPERVM_ERC20_ARTIFACT). `paths.sources` points at an empty folder, so
// `hardhat run`'s implicit compile finds nothing to compile and never downloads solc; the cache and
// artifacts Hardhat writes go where HARDHAT_CACHE_DIR says (a temporary folder in the tests).
const path = require("node:path");

require("@nomicfoundation/hardhat-ethers");

const work = process.env.HARDHAT_CACHE_DIR || path.join(__dirname, "cache");

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  defaultNetwork: "supervm",
  networks: {
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
    sources: path.join(__dirname, "contracts"),
    cache: path.join(work, "cache"),
    artifacts: path.join(work, "artifacts"),
  },
};
