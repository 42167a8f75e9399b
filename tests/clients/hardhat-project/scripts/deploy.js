// `npx hardhat run scripts/deploy.js --network supervm`: deploy the WASM ERC20 artifact with
// hardhat-ethers' getContractFactory(abi, bytecode), transfer some tokens, and print what happened
// as one JSON line (test_hardhat.py asserts on it).
//
// Environment: SUPERVM_ERC20_ARTIFACT (the artifact's path), SUPERVM_RECIPIENT (an address holding
// nothing), SUPERVM_SUPPLY (decimal), SUPERVM_SIGNER_INDEX (which of the mnemonic's accounts
// deploys; default 0).
const fs = require("node:fs");
const hre = require("hardhat");

const { ethers } = hre;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

function toJson(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
}

async function main() {
  const artifact = JSON.parse(fs.readFileSync(env("SUPERVM_ERC20_ARTIFACT"), "utf8"));
  const recipient = ethers.getAddress(env("SUPERVM_RECIPIENT"));
  const supply = BigInt(env("SUPERVM_SUPPLY"));
  const signers = await ethers.getSigners();
  const deployer = signers[Number(process.env.SUPERVM_SIGNER_INDEX || "0")];
  const out = {
    network: hre.network.name,
    chainId: (await ethers.provider.getNetwork()).chainId,
    signers: signers.length,
    deployer: deployer.address,
    deployNonce: await deployer.getNonce("pending"),
  };

  const factory = await ethers.getContractFactory(artifact.abi, artifact.bytecode, deployer);
  const token = await factory.deploy("Token", "TOK", supply);
  await token.waitForDeployment();
  const deployReceipt = await token.deploymentTransaction().wait();
  out.address = await token.getAddress();
  out.deploy = { status: deployReceipt.status, contractAddress: deployReceipt.contractAddress };
  out.symbol = await token.symbol();
  out.totalSupply = await token.totalSupply();

  const amount = 4321n * 10n ** 18n;
  out.amount = amount;
  const tx = await token.transfer(recipient, amount);
  const receipt = await tx.wait();
  out.transfer = {
    status: receipt.status,
    from: receipt.from,
    to: receipt.to,
    blockNumber: receipt.blockNumber,
    events: receipt.logs.map((log) => {
      const parsed = token.interface.parseLog(log);
      return { name: parsed.name, args: [...parsed.args] };
    }),
  };
  out.deployerTokens = await token.balanceOf(deployer.address);
  out.recipientTokens = await token.balanceOf(recipient);
  process.stdout.write(toJson(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exitCode = 1;
});
