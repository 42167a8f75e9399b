// Low-level helpers on raw memory, shared by the ABI codec, storage and logs.

// Raw buffers (call data, keys, ABI output, log topics) come from a static arena, which costs a
// few instructions per allocation; beyond it they come from the runtime's heap. Nothing is ever
// freed: every call runs in a fresh instance.
const ARENA_SIZE: usize = 8192;
const ARENA: usize = memory.data(8192, 16);
let arenaTop: usize = 0;

/** Allocates `size` bytes of raw memory (8-byte aligned, not zeroed). */
export function alloc(size: usize): usize {
  const top = arenaTop;
  if (size <= ARENA_SIZE - top) {
    arenaTop = min<usize>((top + size + 7) & ~(<usize>7), ARENA_SIZE);
    return ARENA + top;
  }
  return __alloc(size);
}

/** Rounds `n` up to a multiple of 32. */
// @ts-ignore: decorator
@inline
export function pad32(n: usize): usize {
  return (n + 31) & ~(<usize>31);
}

/** Writes `v` as a 32-byte big-endian word at `p`. */
// @ts-ignore: decorator
@inline
export function storeWordU64(p: usize, v: u64): void {
  store<u64>(p, 0);
  store<u64>(p, 0, 8);
  store<u64>(p, 0, 16);
  store<u64>(p, bswap<u64>(v), 24);
}

/** Whether the `n` bytes at `p` are all `byte`. */
export function allBytesAre(p: usize, n: usize, byte: u8): bool {
  let word: u64 = byte == 0 ? 0 : u64.MAX_VALUE;
  while (n >= 8) {
    if (load<u64>(p) != word) return false;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    if (load<u8>(p) != byte) return false;
    p += 1;
    n -= 1;
  }
  return true;
}

/** A new Uint8Array holding a copy of the `len` bytes at `ptr`. */
export function bytesFrom(ptr: usize, len: usize): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  return out;
}

/** The UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  const n = <usize>String.UTF8.byteLength(s);
  const out = new Uint8Array(<i32>n);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, out.dataStart);
  return out;
}

const HEX = "0123456789abcdef";

/** Lower-case hex of the `len` bytes at `ptr`, with a `0x` prefix. */
export function hexOf(ptr: usize, len: usize): string {
  let out = "0x";
  for (let i: usize = 0; i < len; i++) {
    const b = load<u8>(ptr + i);
    out += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return out;
}

/** The value of one hex digit, or -1. */
function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses hex (with or without `0x`) into `out` (exactly `len` bytes); false if malformed. */
export function parseHexInto(hex: string, out: usize, len: usize): bool {
  let start = 0;
  if (hex.length >= 2 && hex.charCodeAt(0) == 48 && (hex.charCodeAt(1) | 32) == 120) start = 2;
  if (<usize>(hex.length - start) != len * 2) return false;
  for (let i: usize = 0; i < len; i++) {
    const hi = hexDigit(hex.charCodeAt(start + 2 * <i32>i));
    const lo = hexDigit(hex.charCodeAt(start + 2 * <i32>i + 1));
    if (hi < 0 || lo < 0) return false;
    store<u8>(out + i, <u8>((hi << 4) | lo));
  }
  return true;
}
