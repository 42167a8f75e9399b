const { expect } = require("chai");
const { ethers } = require("hardhat");

describe("Bank", function () {
  let bank, owner, alice;

  before(async function () {
    [owner, alice] = await ethers.getSigners();
    bank = await ethers.deployContract("Bank", [100]); // 1% fee
    await bank.waitForDeployment();
  });

  it("takes deposits through deposit() and plain transfers", async function () {
    const amount = ethers.parseEther("2");
    await expect(bank.connect(alice).deposit({ value: amount }))
      .to.emit(bank, "Deposited")
      .withArgs(alice.address, amount);
    await expect(
      alice.sendTransaction({ to: await bank.getAddress(), value: amount }),
    ).to.changeEtherBalances([alice, bank], [-amount, amount]);
    expect(await bank.balanceOf(alice.address)).to.equal(amount * 2n);
  });

  it("pays a withdrawal less its fee", async function () {
    const amount = ethers.parseEther("1");
    const fee = amount / 100n;
    await expect(bank.connect(alice).withdraw(amount)).to.changeEtherBalances(
      [alice, bank],
      [amount - fee, -(amount - fee)],
    );
    expect(await bank.fees()).to.equal(fee);
    await expect(bank.sweep(owner.address)).to.changeEtherBalance(owner, fee);
  });

  it("reverts with a custom error, a reason string and a panic", async function () {
    const held = await bank.balanceOf(alice.address);
    await expect(bank.connect(alice).withdraw(held + 1n))
      .to.be.revertedWithCustomError(bank, "InsufficientBalance")
      .withArgs(alice.address, held, held + 1n);
    await expect(bank.connect(alice).deposit({ value: 0 })).to.be.revertedWith(
      "Bank: nothing deposited",
    );
    await expect(bank.share(10, 0)).to.be.revertedWithPanic(0x12);
    await expect(bank.connect(alice).sweep(alice.address))
      .to.be.revertedWithCustomError(bank, "OwnableUnauthorizedAccount")
      .withArgs(alice.address);
    await expect(ethers.deployContract("Bank", [1001])).to.be.revertedWith("Bank: fee too high");
  });
});
