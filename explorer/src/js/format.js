// Formatting chain values for people: quantities (hex strings) as BigInt, wei as ether,
// hashes shortened, times as ages. Pure functions, tested by test/format.test.js.

/** A JSON-RPC quantity ("0x1a") or decimal string as a BigInt; null stays null. */
export function big(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  return BigInt(value);
}

/** A quantity as a JavaScript number (block numbers, counts, gas: all far below 2^53). */
export function num(value) {
  return value === null || value === undefined ? null : Number(big(value));
}

/** Digits grouped by thousands: 1234567n -> "1,234,567". */
export function grouped(value) {
  const text = big(value).toString();
  const negative = text.startsWith("-");
  const digits = negative ? text.slice(1) : text;
  const out = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return negative ? "-" + out : out;
}

/** An amount with `decimals` decimals, trailing zeros dropped: (1500000000000000000n, 18) -> "1.5". */
export function units(value, decimals = 18) {
  let amount = big(value);
  const negative = amount < 0n;
  if (negative) amount = -amount;
  const scale = 10n ** BigInt(decimals);
  const whole = amount / scale;
  const fraction = (amount % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  const text = grouped(whole) + (fraction ? "." + fraction : "");
  return negative ? "-" + text : text;
}

/** Wei as ether: "1.5 ETH". */
export function ether(wei) {
  return units(wei, 18) + " ETH";
}

/** Wei as ether for a table cell: at most 6 decimals, "< 0.000001 ETH" for dust. */
export function etherShort(wei) {
  const value = big(wei);
  if (value === 0n) return "0 ETH";
  if (value > 0n && value < 10n ** 12n) return "< 0.000001 ETH";
  const rounded = (value / 10n ** 12n) * 10n ** 12n;
  return units(rounded, 18) + " ETH";
}

/** Wei per gas as gwei: "1.000000007 gwei". */
export function gwei(wei) {
  return units(wei, 9) + " gwei";
}

/** A hash or address shortened for a table cell: 0x1234…cdef. */
export function short(hex, keep = 6) {
  if (!hex || hex.length <= 2 + 2 * keep) return hex ?? "";
  return `${hex.slice(0, 2 + keep)}…${hex.slice(-keep + 2)}`;
}

/** Seconds since `timestamp` (unix seconds) as "5 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function age(timestamp, now = Date.now() / 1000) {
  const seconds = Math.max(0, Math.floor(now - num(timestamp)));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** Unix seconds as an ISO date and time (UTC). */
export function datetime(timestamp) {
  return new Date(num(timestamp) * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC");
}

/** A percentage with one decimal: (3, 4) -> "75.0 %". */
export function percent(part, whole) {
  const w = Number(big(whole));
  return w ? `${((Number(big(part)) * 100) / w).toFixed(1)} %` : "0 %";
}

/** Bytes of 0x-hex data. */
export function byteLength(hex) {
  return hex ? Math.floor((hex.length - 2) / 2) : 0;
}

/** What a search box entry names: a block number, a 32-byte hash, an address, or nothing. */
export function classify(query) {
  const text = String(query ?? "").trim();
  if (/^\d+$/.test(text)) return { kind: "block", value: text };
  if (/^0x[0-9a-fA-F]+$/.test(text)) {
    if (text.length === 66) return { kind: "hash", value: text.toLowerCase() };
    if (text.length === 42) return { kind: "address", value: text };
    if (text.length <= 18) return { kind: "block", value: String(BigInt(text)) };
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { kind: "hash", value: "0x" + text.toLowerCase() };
  if (/^[0-9a-fA-F]{40}$/.test(text)) return { kind: "address", value: "0x" + text };
  return { kind: "unknown", value: text };
}

/** Printable text of hex bytes if it is all printable ASCII (extraData, WASM storage keys). */
export function ascii(hex) {
  if (!hex || hex.length < 4 || hex.length % 2) return null;
  let out = "";
  for (let i = 2; i < hex.length; i += 2) {
    const code = parseInt(hex.slice(i, i + 2), 16);
    if (code < 0x20 || code > 0x7e) return null;
    out += String.fromCharCode(code);
  }
  return out;
}
