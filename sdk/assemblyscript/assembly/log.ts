// Ethereum logs and SuperVM's opaque events.
import { env } from "./env";
import { alloc } from "./bytes";

/**
 * Emits an Ethereum log with up to 4 topics (32 bytes each) and `data`. Declared events
 * (`@event declare function Transfer(...)`) call this for you with topic0 = the Keccak-256 of
 * the event signature.
 */
export function emitLog(topics: Array<Uint8Array>, data: Uint8Array): void {
  const n = topics.length;
  if (n > 4) throw new Error("a log has at most 4 topics");
  const p = alloc(n > 0 ? <usize>n * 32 : 1);
  for (let i = 0; i < n; i++) {
    const t = unchecked(topics[i]);
    if (t.length != 32) throw new Error("a log topic has 32 bytes");
    memory.copy(p + <usize>i * 32, t.dataStart, 32);
  }
  env.emit_log(p, n, data.dataStart, <usize>data.length);
}

/** Emits an opaque SuperVM event (`emit_event`). */
export function emitEvent(data: Uint8Array): void {
  env.emit_event(data.dataStart, <usize>data.length);
}

/** The number of events this call emitted so far. */
export function eventsLen(): i32 {
  return env.events_len();
}

/** Event `index` of this call (up to `maxLen` bytes), or null. */
export function readEvent(index: i32, maxLen: i32 = 65536): Uint8Array | null {
  const buf = new Uint8Array(maxLen);
  const n = env.read_event(index, buf.dataStart, <usize>maxLen);
  if (n < 0) return null;
  return buf.subarray(0, n);
}
