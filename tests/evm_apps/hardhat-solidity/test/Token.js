const { expect } = require("chai");
const { ethers } = require("hardhat");

describe("Token", function () {
  const supply = ethers.parseEther("1000000");
  let token, owner, alice, bob;

  before(async function () {
    [owner, alice, bob] = await ethers.getSigners();
    token = await ethers.deployContract("Token", [supply]);
    await token.waitForDeployment();
  });

  it("mints the supply to the deployer", async function () {
    expect(await token.name()).to.equal("Hardhat Token");
    expect(await token.symbol()).to.equal("HHT");
    expect(await token.totalSupply()).to.equal(supply);
    expect(await token.balanceOf(owner.address)).to.equal(supply);
    expect(await token.owner()).to.equal(owner.address);
  });

  it("transfers, emitting Transfer", async function () {
    const amount = ethers.parseEther("150");
    await expect(token.transfer(alice.address, amount))
      .to.emit(token, "Transfer")
      .withArgs(owner.address, alice.address, amount);
    await expect(token.connect(alice).transfer(bob.address, 50n)).to.changeTokenBalances(
      token,
      [alice, bob],
      [-50n, 50n],
    );
  });

  it("reverts with OpenZeppelin's custom errors", async function () {
    const held = await token.balanceOf(bob.address);
    await expect(token.connect(bob).transfer(alice.address, held + 1n))
      .to.be.revertedWithCustomError(token, "ERC20InsufficientBalance")
      .withArgs(bob.address, held, held + 1n);
    await expect(token.connect(bob).mint(bob.address, 1n))
      .to.be.revertedWithCustomError(token, "OwnableUnauthorizedAccount")
      .withArgs(bob.address);
  });

  it("accepts an EIP-2612 permit signed off-chain", async function () {
    const value = ethers.parseEther("7");
    const nonce = await token.nonces(alice.address);
    const block = await ethers.provider.getBlock("latest");
    const deadline = BigInt(block.timestamp) + 3600n;
    const { chainId } = await ethers.provider.getNetwork();
    const domain = {
      name: "Hardhat Token",
      version: "1",
      chainId,
      verifyingContract: await token.getAddress(),
    };
    const types = {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    };
    const message = { owner: alice.address, spender: bob.address, value, nonce, deadline };
    const signature = ethers.Signature.from(await alice.signTypedData(domain, types, message));
    // Bob submits Alice's signature: the contract recovers her address with ecrecover.
    await expect(
      token.connect(bob).permit(alice.address, bob.address, value, deadline, signature.v, signature.r, signature.s),
    )
      .to.emit(token, "Approval")
      .withArgs(alice.address, bob.address, value);
    expect(await token.allowance(alice.address, bob.address)).to.equal(value);
    expect(await token.nonces(alice.address)).to.equal(nonce + 1n);
    // The same signature again: the nonce moved, so it recovers someone else.
    await expect(
      token.connect(bob).permit(alice.address, bob.address, value, deadline, signature.v, signature.r, signature.s),
    ).to.be.revertedWithCustomError(token, "ERC2612InvalidSigner");
  });
});
