// `hardhat run` prints the resolved supervm network config (plugin.test.mjs checks it).
const hre = require("hardhat");

const { url, chainId, accounts } = hre.config.networks.supervm;
console.log(JSON.stringify({ url, chainId, accounts }));
