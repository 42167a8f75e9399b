const { expect } = require("chai");
const { ethers } = require("hardhat");

describe("Factory", function () {
  let factory;

  before(async function () {
    factory = await ethers.deployContract("Factory");
    await factory.waitForDeployment();
  });

  it("creates children with CREATE at the sender-and-nonce address", async function () {
    const address = await factory.getAddress();
    const nonce = await ethers.provider.getTransactionCount(address);
    expect(nonce).to.equal(1n); // EIP-161: a contract starts at nonce 1
    const expected = ethers.getCreateAddress({ from: address, nonce });
    await expect(factory.create(42)).to.emit(factory, "Created").withArgs(expected, ethers.ZeroHash, 42);
    const child = await ethers.getContractAt("Child", expected);
    expect(await child.parent()).to.equal(address);
    expect(await child.value()).to.equal(42n);
    expect(await ethers.provider.getTransactionCount(address)).to.equal(2n);
  });

  it("creates children with CREATE2 where predicted, and refuses the same salt twice", async function () {
    const address = await factory.getAddress();
    const salt = ethers.id("supervm");
    const artifact = await hre.artifacts.readArtifact("Child");
    const initCode = ethers.concat([
      artifact.bytecode,
      ethers.AbiCoder.defaultAbiCoder().encode(["uint256"], [7]),
    ]);
    const expected = ethers.getCreate2Address(address, salt, ethers.keccak256(initCode));
    expect(await factory.predict(salt, 7)).to.equal(expected);
    const value = ethers.parseEther("0.5");
    await expect(factory.create2(salt, 7, { value }))
      .to.emit(factory, "Created")
      .withArgs(expected, salt, 7);
    expect(await ethers.provider.getBalance(expected)).to.equal(value);
    const child = await ethers.getContractAt("Child", expected);
    expect(await child.value()).to.equal(7n);
    const deployed = await ethers.provider.getCode(expected);
    expect(deployed.length).to.be.greaterThan(2);
    await expect(factory.create2(salt, 7)).to.be.reverted;
  });

  it("sees the chain's block context", async function () {
    const [id, number, , baseFee] = await factory.chain();
    const { chainId } = await ethers.provider.getNetwork();
    expect(id).to.equal(chainId);
    const head = await ethers.provider.getBlock("latest");
    expect(number >= BigInt(head.number)).to.equal(true);
    expect(baseFee).to.be.a("bigint");
  });
});
