// ABI types of AssemblyScript type names, and Solidity-style signatures.

const UINT_CONTAINERS = [
  [8, "u8", "uint"],
  [16, "u16", "uint"],
  [32, "u32", "uint"],
  [64, "u64", "uint"],
  [128, "u128", "u128"],
  [256, "u256", "u256"],
];
const INT_CONTAINERS = [
  [8, "i8", "int"],
  [16, "i16", "int"],
  [32, "i32", "int"],
  [64, "i64", "int"],
  [128, "i128", "i128"],
  [256, "i256", "i256"],
];

function integer(signed, bits) {
  const containers = signed ? INT_CONTAINERS : UINT_CONTAINERS;
  const [, as, codec] = containers.find(([width]) => bits <= width);
  return { abi: `${signed ? "int" : "uint"}${bits}`, as, codec, bits, dynamic: false };
}

/** AssemblyScript types that map to themselves. */
const NATIVE = {
  bool: { abi: "bool", as: "bool", codec: "bool", dynamic: false },
  u8: integer(false, 8),
  u16: integer(false, 16),
  u32: integer(false, 32),
  u64: integer(false, 64),
  u128: integer(false, 128),
  u256: integer(false, 256),
  i8: integer(true, 8),
  i16: integer(true, 16),
  i32: integer(true, 32),
  i64: integer(true, 64),
  i128: integer(true, 128),
  i256: integer(true, 256),
  Address: { abi: "address", as: "Address", codec: "address", dynamic: false },
  string: { abi: "string", as: "string", codec: "string", dynamic: true },
  String: { abi: "string", as: "string", codec: "string", dynamic: true },
  Bytes: { abi: "bytes", as: "Uint8Array", codec: "bytes", dynamic: true },
  Uint8Array: { abi: "bytes", as: "Uint8Array", codec: "bytes", dynamic: true },
};

const SUPPORTED =
  "bool, u8..u64, i8..i64, u128, i128, u256, i256, uint8..uint256, int8..int256, Address, " +
  "string, Bytes (Uint8Array) and Bytes1..Bytes32";

/**
 * The ABI type of an AssemblyScript type written as `text` (whitespace removed), or an error
 * message. Result: {abi, as, codec, bits?, size?, dynamic}.
 */
export function resolveType(text) {
  if (Object.prototype.hasOwnProperty.call(NATIVE, text)) return NATIVE[text];
  let m = /^(u?)int(\d+)$/.exec(text);
  if (m) {
    const bits = Number(m[2]);
    if (bits < 8 || bits > 256 || bits % 8) return `${text} is not an ABI integer type (8 to 256 bits, in steps of 8)`;
    return integer(m[1] !== "u", bits);
  }
  m = /^Bytes(\d+)$/.exec(text);
  if (m) {
    const size = Number(m[1]);
    if (size < 1 || size > 32) return `${text} is not an ABI type (Bytes1 to Bytes32)`;
    return { abi: `bytes${size}`, as: "Uint8Array", codec: "fixedbytes", size, dynamic: false };
  }
  if (text.includes("|")) return `nullable type ${text} has no ABI type`;
  if (/^(Array|StaticArray)<.*>$/.test(text) || text.endsWith("[]")) {
    return `arrays (${text}) are not supported in the ABI yet; supported: ${SUPPORTED}`;
  }
  return `type ${text} has no ABI type; supported: ${SUPPORTED}`;
}

/** A JSON ABI parameter. */
export function abiParam(name, t) {
  return { name, type: t.abi, internalType: t.abi };
}

/** `name(type1,type2,...)`, the text a function selector hashes. */
export function functionSignature(name, types) {
  return `${name}(${types.map((t) => t.abi).join(",")})`;
}

/** `Name(type1,...)`, the text an event's topic0 hashes. */
export function eventSignature(name, types) {
  return functionSignature(name, types);
}
