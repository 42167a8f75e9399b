// Checked 256-bit arithmetic: overflow reverts with Panic(0x11), as in Solidity 0.8.
import { u256 } from "as-bignum/assembly";
import { panic, PanicCode } from "./revert";

/** a + b, reverting with Panic(0x11) on overflow. */
export function addChecked(a: u256, b: u256): u256 {
  const r = a + b;
  if (r < a) panic(PanicCode.ARITHMETIC);
  return r;
}

/** a - b, reverting with Panic(0x11) if b > a. */
export function subChecked(a: u256, b: u256): u256 {
  if (b > a) panic(PanicCode.ARITHMETIC);
  return a - b;
}

/** a * b, reverting with Panic(0x11) on overflow. */
export function mulChecked(a: u256, b: u256): u256 {
  if (a.isZero() || b.isZero()) return new u256();
  const bits = 512 - u256.clz(a) - u256.clz(b);
  if (bits <= 256) return a * b; // bitlen(a) + bitlen(b) <= 256: the product fits
  if (bits > 257) panic(PanicCode.ARITHMETIC);
  // bitlen(a) + bitlen(b) == 257: a * b = 2 * (a * (b >> 1)) + (b odd ? a : 0), where the
  // inner product fits.
  const m = a * (b >> 1);
  let r = addChecked(m, m);
  if ((b.lo1 & 1) != 0) r = addChecked(r, a);
  return r;
}
