// Compiled with `tsc --noEmit` by `npm test`: contract types follow an `as const` ABI. Every
// line marked as an expected error must be one, so a type that is too loose fails too.
import type { ContractTransactionResponse } from "ethers";
import { attach, deploy, devWallet, loadArtifact } from "@supervm/js";
import type { ConstructorArgs, SuperVMContract } from "@supervm/js";

const abi = [
  { type: "constructor", inputs: [{ name: "limit", type: "uint256" }], stateMutability: "nonpayable" },
  { type: "function", name: "current", inputs: [], outputs: [{ name: "", type: "uint256" }], stateMutability: "view" },
  { type: "function", name: "owner", inputs: [], outputs: [{ name: "", type: "address" }], stateMutability: "view" },
  { type: "function", name: "store", inputs: [{ name: "value", type: "uint256" }], outputs: [{ name: "", type: "uint256" }], stateMutability: "nonpayable" },
  { type: "function", name: "fail", inputs: [{ name: "reason", type: "string" }], outputs: [{ name: "", type: "bool" }], stateMutability: "view" },
] as const;

type Probe = SuperVMContract<typeof abi>;

export async function typed(probe: Probe): Promise<void> {
  const current: bigint = await probe.current();
  const owner: string = await probe.owner();
  const ok: boolean = await probe.fail("reason");
  const tx: ContractTransactionResponse = await probe.store(5n);
  const simulated: bigint = await probe.store.staticCall(5);
  // @ts-expect-error: store takes a number, not a string array
  await probe.store([1]);
  // @ts-expect-error: a view returns its value, not a transaction
  const wrong: ContractTransactionResponse = await probe.current();
  // @ts-expect-error: no such function in the ABI
  await probe.nope();
  void [current, owner, ok, tx, simulated, wrong];
}

export async function deployed(): Promise<void> {
  const artifact = { ...loadArtifact("Probe.json"), abi };
  const args: ConstructorArgs<typeof abi> = [100n];
  // @ts-expect-error: the constructor takes one uint256
  const bad: ConstructorArgs<typeof abi> = ["x", 1];
  const { contract } = await deploy(artifact, devWallet(0), args);
  const limit: bigint = await contract.current();
  // An ABI read from JSON at run time: untyped methods, as ethers' Contract.
  const loose = attach("Probe.json", "0x" + "00".repeat(20));
  const anything: unknown = await loose.whatever!(1, 2, 3);
  void [bad, limit, anything];
}
