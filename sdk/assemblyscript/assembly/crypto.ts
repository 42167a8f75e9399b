// Hashes and signatures, through the host.
import { env } from "./env";
import { Address } from "./address";
import { alloc } from "./bytes";

/** Keccak-256 (Ethereum's) of `data`: 32 bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  env.keccak256(data.dataStart, <usize>data.length, out.dataStart);
  return out;
}

/** Keccak-256 of the UTF-8 of `s` (e.g. an event signature). */
export function keccak256String(s: string): Uint8Array {
  const n = <usize>String.UTF8.byteLength(s);
  const tmp = alloc(n > 0 ? n : 1);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, tmp);
  const out = new Uint8Array(32);
  env.keccak256(tmp, n, out.dataStart);
  return out;
}

/** SHA-256 of `data`: 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  env.sha256(data.dataStart, <usize>data.length, out.dataStart);
  return out;
}

/** Whether `signature` (64 bytes) is a valid Ed25519 signature of `message` by `publicKey` (32 bytes). */
export function verifyEd25519(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): bool {
  if (signature.length != 64 || publicKey.length != 32) return false;
  return env.verify_ed25519(message.dataStart, <usize>message.length, signature.dataStart, publicKey.dataStart) == 1;
}

/**
 * Whether `signature` (64 bytes, r ‖ s) is a valid secp256k1 signature of the 32-byte `hash` by
 * `publicKey` (33 or 65 bytes).
 */
export function verifySecp256k1(hash: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): bool {
  if (hash.length != 32 || signature.length != 64) return false;
  return env.verify_secp256k1(hash.dataStart, signature.dataStart, publicKey.dataStart, <usize>publicKey.length) == 1;
}

/** The 65-byte public key that signed the 32-byte `hash` (signature: r ‖ s ‖ v), or null. */
export function recoverSecp256k1(hash: Uint8Array, signature: Uint8Array): Uint8Array | null {
  if (hash.length != 32 || signature.length != 65) return null;
  const out = new Uint8Array(65);
  if (env.recover_secp256k1_pubkey(hash.dataStart, signature.dataStart, out.dataStart) != 0) return null;
  return out;
}

/** The Ethereum address of a secp256k1 public key (64, 65 or 33 bytes); zero if invalid. */
export function ethAddress(publicKey: Uint8Array): Address {
  const out = alloc(20);
  if (env.derive_eth_address(publicKey.dataStart, <usize>publicKey.length, out) != 0) return Address.zero();
  return Address.fromPtr(out);
}

/** The signer's address, or the zero address if none can be recovered (Solidity's `ecrecover`). */
export function ecrecover(hash: Uint8Array, signature: Uint8Array): Address {
  const key = recoverSecp256k1(hash, signature);
  if (key === null) return Address.zero();
  return ethAddress(key);
}
