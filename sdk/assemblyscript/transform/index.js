// The @supervm/sdk asc transform: turns an AssemblyScript contract into a SuperVM contract.
//
//   asc assembly/index.ts --transform @supervm/sdk/transform --runtime stub ...
//
// After parsing, for the entry file's `@contract` class it generates
//   - `export function call()`: reads the call data, dispatches on the 4-byte selector to the
//     class's public methods, ABI-decodes their arguments and ABI-encodes their results;
//   - `export function deploy()` if a method is marked `@deploy` (the Solidity constructor): runs
//     once, with the ABI-encoded constructor arguments as its input;
// and for every `@event declare function E(...)` / `@error declare function E(...)` a function
// that emits the Ethereum log / reverts with the custom error. The contract's standard JSON ABI
// is derived from the same declarations and stored in the module's custom section
// `supervm.abi` (JSON: {contract, abi, sources}); the compiler plugin takes it out of the
// artifact's bytecode.
//
// The ABI is derived from type *names* as written in the source (see abi.js): bool, u8..u64,
// i8..i64, u128, i128, u256, i256, uintN/intN, Address, string, Bytes/Uint8Array, Bytes1..Bytes32.

import { Transform } from "assemblyscript/transform";
import { ASTBuilder, CommonFlags, DiagnosticCode, NodeKind, SourceKind } from "assemblyscript";

import { abiParam, eventSignature, functionSignature, resolveType } from "./abi.js";
import { keccak256, toHex } from "./keccak.js";

/** Import path of the SDK's runtime module (what the generated code calls). */
export const RUNTIME = "@supervm/sdk/assembly/runtime";
/** Name of the custom section holding the ABI. */
export const ABI_SECTION = "supervm.abi";
/** The transform's name in diagnostics. */
const NAME = "@supervm/sdk";
/** The local name the generated code imports the runtime as. */
const RT = "__supervm";

const MUTABILITY = ["view", "pure", "nonpayable"];

class TransformError extends Error {
  constructor(node, message) {
    super(message);
    this.node = node;
  }
}

function decoratorNames(node) {
  return (node.decorators || [])
    .filter((d) => d.name.kind === NodeKind.Identifier)
    .map((d) => d.name.text);
}

function hasDecorator(node, name) {
  return decoratorNames(node).includes(name);
}

function typeText(node) {
  return node ? ASTBuilder.build(node).replace(/\s+/g, "") : "void";
}

function isUserSource(source) {
  return !source.normalizedPath.startsWith("~lib/");
}

function isFlag(node, flag) {
  return (node.flags & flag) !== 0;
}

/** The 32-byte word as an AssemblyScript static-data expression. */
function staticBytes(bytes) {
  return `memory.data<u8>([${Array.from(bytes).join(", ")}])`;
}

// -- code generation helpers ------------------------------------------------------------------

/** Expression decoding the value of ABI type `t` from slot `off` of the tuple at (a, n). */
function decodeExpr(t, a, n, off) {
  switch (t.codec) {
    case "address":
      return `${RT}.readAddress(${a}, ${n}, ${off})`;
    case "bool":
      return `${RT}.readBool(${a}, ${n}, ${off})`;
    case "uint":
      return `<${t.as}>${RT}.readUint(${a}, ${n}, ${off}, ${t.bits})`;
    case "int":
      return `<${t.as}>${RT}.readInt(${a}, ${n}, ${off}, ${t.bits})`;
    case "u128":
      return `${RT}.readU128(${a}, ${n}, ${off}, ${t.bits})`;
    case "i128":
      return `${RT}.readI128(${a}, ${n}, ${off}, ${t.bits})`;
    case "u256":
      return `${RT}.readU256(${a}, ${n}, ${off}, ${t.bits})`;
    case "i256":
      return `${RT}.readI256(${a}, ${n}, ${off}, ${t.bits})`;
    case "fixedbytes":
      return `${RT}.readFixedBytes(${a}, ${n}, ${off}, ${t.size})`;
    case "bytes":
      return `${RT}.readBytes(${a}, ${n}, ${off})`;
    case "string":
      return `${RT}.readString(${a}, ${n}, ${off})`;
  }
  throw new Error(`unknown codec ${t.codec}`);
}

/** Statement writing the static value `v` of type `t` into slot `off` at `p`. */
function encodeStaticStmt(t, p, off, v) {
  switch (t.codec) {
    case "address":
      return `${RT}.writeAddress(${p}, ${off}, ${v});`;
    case "bool":
      return `${RT}.writeBool(${p}, ${off}, ${v});`;
    case "uint":
      return `${RT}.writeUint(${p}, ${off}, <u64>(${v}), ${t.bits});`;
    case "int":
      return `${RT}.writeInt(${p}, ${off}, <i64>(${v}), ${t.bits});`;
    case "u128":
      return `${RT}.writeU128(${p}, ${off}, ${v}, ${t.bits});`;
    case "i128":
      return `${RT}.writeI128(${p}, ${off}, ${v}, ${t.bits});`;
    case "u256":
      return `${RT}.writeU256(${p}, ${off}, ${v}, ${t.bits});`;
    case "i256":
      return `${RT}.writeI256(${p}, ${off}, ${v}, ${t.bits});`;
    case "fixedbytes":
      return `${RT}.writeFixedBytes(${p}, ${off}, ${v}, ${t.size});`;
  }
  throw new Error(`codec ${t.codec} is not static`);
}

/**
 * Statements ABI-encoding `values` (expressions) of `types` as a tuple into a new buffer `buf`
 * of `size` bytes (both declared by the statements), after `prefix` bytes (for a selector).
 */
function encodeTuple(types, values, buf, size, prefix = 0) {
  const lines = [];
  const head = 32 * types.length;
  let sizeExpr = `${prefix + head}`;
  lines.push(`let ${size}: usize = ${sizeExpr};`);
  types.forEach((t, i) => {
    if (t.codec === "string") lines.push(`${size} += ${RT}.sizeString(${values[i]});`);
    else if (t.codec === "bytes") lines.push(`${size} += ${RT}.sizeBytes(${values[i]});`);
  });
  lines.push(`const ${buf} = ${RT}.alloc(${size} > 0 ? ${size} : 1);`);
  const base = prefix ? `${buf}_t` : buf;
  if (prefix) lines.push(`const ${base} = ${buf} + ${prefix};`);
  const dynamic = types.some((t) => t.dynamic);
  if (dynamic) lines.push(`let ${buf}_tail: usize = ${head};`);
  types.forEach((t, i) => {
    const off = 32 * i;
    if (t.codec === "string") {
      lines.push(`${buf}_tail = ${RT}.writeString(${base}, ${off}, ${buf}_tail, ${values[i]});`);
    } else if (t.codec === "bytes") {
      lines.push(`${buf}_tail = ${RT}.writeBytes(${base}, ${off}, ${buf}_tail, ${values[i]});`);
    } else {
      lines.push(encodeStaticStmt(t, base, off, values[i]));
    }
  });
  return lines;
}

// -- the transform -----------------------------------------------------------------------------

export default class SuperVMTransform extends Transform {
  afterParse(parser) {
    this.result = null;
    try {
      this.result = this.process(parser);
    } catch (err) {
      if (!(err instanceof TransformError)) throw err;
      parser.error(DiagnosticCode.Transform_0_1, err.node ? err.node.range : null, NAME, err.message);
    }
  }

  afterCompile(module) {
    if (this.result) {
      const json = JSON.stringify(this.result);
      module.addCustomSection(ABI_SECTION, new TextEncoder().encode(json));
    }
  }

  process(parser) {
    const sources = parser.sources.slice();
    const entries = sources.filter((s) => s.sourceKind === SourceKind.UserEntry);
    const userPaths = sources.filter(isUserSource).map((s) => s.normalizedPath);

    // Every class declaration by name, for base classes.
    this.classes = new Map();
    for (const source of sources) {
      for (const stmt of source.statements) {
        if (stmt.kind === NodeKind.ClassDeclaration && !this.classes.has(stmt.name.text)) {
          this.classes.set(stmt.name.text, stmt);
        }
      }
    }

    // @event / @error declarations anywhere (user files and packages).
    const events = [];
    const errors = [];
    const generatedBySource = new Map();
    const add = (source, text) => {
      if (!generatedBySource.has(source)) generatedBySource.set(source, []);
      generatedBySource.get(source).push(text);
    };
    for (const source of sources) {
      const keep = [];
      for (const stmt of source.statements) {
        if (stmt.kind === NodeKind.FunctionDeclaration && hasDecorator(stmt, "event")) {
          const ev = this.event(stmt, source);
          events.push(ev);
          add(source, ev.code);
        } else if (stmt.kind === NodeKind.FunctionDeclaration && hasDecorator(stmt, "error")) {
          const er = this.customError(stmt, source);
          errors.push(er);
          add(source, er.code);
        } else {
          keep.push(stmt);
        }
      }
      source.statements.length = 0;
      source.statements.push(...keep);
    }

    // The contract: a @contract class in the entry file.
    let contract = null;
    for (const source of sources) {
      for (const stmt of source.statements) {
        if (stmt.kind !== NodeKind.ClassDeclaration || !hasDecorator(stmt, "contract")) continue;
        if (source.sourceKind !== SourceKind.UserEntry) {
          throw new TransformError(
            stmt,
            `@contract class ${stmt.name.text} must be declared in the entry file being compiled, ` +
              `not in ${source.normalizedPath} (keep shared code in undecorated base classes)`,
          );
        }
        if (contract) {
          throw new TransformError(
            stmt,
            `only one @contract class per entry file (found ${contract.decl.name.text} and ${stmt.name.text})`,
          );
        }
        contract = { decl: stmt, source };
      }
    }

    let abi = [];
    let name = null;
    if (contract) {
      name = contract.decl.name.text;
      const c = this.contract(contract.decl);
      abi.push(...c.abi);
      add(contract.source, c.code);
    }
    for (const ev of events) abi.push(ev.abi);
    for (const er of errors) abi.push(er.abi);

    // Make sure the runtime (and with it the abort handler asc is told to use) is compiled in.
    const runtimeSeen = sources.some((s) => s.normalizedPath.startsWith("~lib/@supervm/sdk/assembly/runtime"));
    if (!runtimeSeen && !generatedBySource.size && entries.length) {
      add(entries[0], "");
    }

    for (const [source, parts] of generatedBySource) {
      this.inject(parser, source, parts.join("\n\n"));
    }
    return { contract: name, abi, sources: userPaths };
  }

  /** Parses `code` (with the runtime import) and appends its statements to `source`. */
  inject(parser, source, code) {
    const dir = source.normalizedPath.includes("/")
      ? source.normalizedPath.substring(0, source.normalizedPath.lastIndexOf("/") + 1)
      : "";
    const stem = source.normalizedPath.substring(dir.length).replace(/\.ts$/, "");
    const path = `${dir}${stem}.__supervm_generated.ts`;
    const text = `import * as ${RT} from "${RUNTIME}";\n\n${code}\n`;
    const before = parser.sources.length;
    parser.parseFile(text, path, false);
    if (parser.sources.length === before) throw new Error(`could not parse generated code for ${source.normalizedPath}`);
    // The generated statements move into `source` (so that they share its scope and its
    // exports become the module's); the generated source stays, empty, because the compiler
    // looks up the file of every node's range.
    const generated = parser.sources[parser.sources.length - 1];
    source.statements.push(...generated.statements);
    generated.statements.length = 0;
    if (process.env.SUPERVM_TRANSFORM_DEBUG) process.stderr.write(`--- ${path}\n${text}\n`);
  }

  // -- parameters and types --------------------------------------------------------------------

  params(fn, { allowIndexed = false } = {}) {
    return fn.signature.parameters.map((p) => {
      if (p.initializer) {
        throw new TransformError(p, `parameter ${p.name.text}: default values are not part of the ABI`);
      }
      let text = typeText(p.type);
      let indexed = false;
      const m = /^Indexed<(.+)>$/.exec(text);
      if (m) {
        if (!allowIndexed) throw new TransformError(p, `Indexed<...> is only for @event parameters`);
        indexed = true;
        text = m[1];
      }
      const t = resolveType(text);
      if (typeof t === "string") throw new TransformError(p.type || p, `parameter ${p.name.text}: ${t}`);
      return { name: p.name.text, type: t, text, indexed, node: p };
    });
  }

  returnType(fn) {
    const text = typeText(fn.signature.returnType);
    if (text === "void") return null;
    const t = resolveType(text);
    if (typeof t === "string") throw new TransformError(fn.signature.returnType, `return type: ${t}`);
    return t;
  }

  // -- events and errors -----------------------------------------------------------------------

  declaredFunction(stmt, what) {
    if (!isFlag(stmt, CommonFlags.Ambient) && !isFlag(stmt, CommonFlags.Declare)) {
      throw new TransformError(stmt, `@${what} ${stmt.name.text} must be a declaration: @${what} declare function ${stmt.name.text}(...): void;`);
    }
    if (typeText(stmt.signature.returnType) !== "void") {
      throw new TransformError(stmt.signature.returnType, `@${what} ${stmt.name.text} must return void`);
    }
    if (stmt.typeParameters && stmt.typeParameters.length) {
      throw new TransformError(stmt, `@${what} ${stmt.name.text} cannot be generic`);
    }
  }

  event(stmt, source) {
    this.declaredFunction(stmt, "event");
    const name = stmt.name.text;
    const params = this.params(stmt, { allowIndexed: true });
    const anonymous = false;
    const indexed = params.filter((p) => p.indexed);
    if (indexed.length > 3) throw new TransformError(stmt, `event ${name} has more than 3 indexed parameters`);
    const signature = eventSignature(name, params.map((p) => p.type));
    const topic0 = keccak256(signature);
    const data = params.filter((p) => !p.indexed);
    const nTopics = 1 + indexed.length;
    const lines = [];
    lines.push(`const __topics = ${RT}.alloc(${32 * nTopics});`);
    lines.push(`memory.copy(__topics, ${staticBytes(topic0)}, 32);`);
    indexed.forEach((p, i) => {
      const off = 32 * (i + 1);
      if (p.type.codec === "string") lines.push(`${RT}.topicString(__topics, ${off}, ${p.name});`);
      else if (p.type.codec === "bytes") lines.push(`${RT}.topicBytes(__topics, ${off}, ${p.name});`);
      else lines.push(encodeStaticStmt(p.type, "__topics", off, p.name));
    });
    lines.push(...encodeTuple(data.map((p) => p.type), data.map((p) => p.name), "__data", "__size"));
    lines.push(`${RT}.emitLog(__topics, ${nTopics}, __data, __size);`);
    const code = this.functionText(stmt, source, params, lines);
    return {
      abi: {
        type: "event",
        name,
        inputs: params.map((p) => ({ ...abiParam(p.name, p.type), indexed: p.indexed })),
        anonymous,
      },
      code,
      signature,
      topic0: "0x" + toHex(topic0),
    };
  }

  customError(stmt, source) {
    this.declaredFunction(stmt, "error");
    const name = stmt.name.text;
    const params = this.params(stmt);
    const signature = functionSignature(name, params.map((p) => p.type));
    const selector = toHex(keccak256(signature).subarray(0, 4));
    const lines = [];
    lines.push(...encodeTuple(params.map((p) => p.type), params.map((p) => p.name), "__out", "__size", 4));
    lines.push(`${RT}.writeSelector(__out, 0x${selector});`);
    lines.push(`${RT}.revertWithData(__out, __size);`);
    const code = this.functionText(stmt, source, params, lines);
    return {
      abi: { type: "error", name, inputs: params.map((p) => abiParam(p.name, p.type)) },
      code,
    };
  }

  /** Source of a function replacing a `declare function` declaration. */
  functionText(stmt, source, params, lines) {
    // Exports of the entry file become WebAssembly exports: events and errors must not.
    const exported = isFlag(stmt, CommonFlags.Export) && source.sourceKind !== SourceKind.UserEntry ? "export " : "";
    const args = params.map((p) => `${p.name}: ${p.text}`).join(", ");
    return `${exported}function ${stmt.name.text}(${args}): void {\n  ${lines.join("\n  ")}\n}`;
  }

  // -- the contract ----------------------------------------------------------------------------

  /** Public methods of `cls` and its base classes, base first, overridden by name. */
  methods(cls, seen = new Set()) {
    if (seen.has(cls)) return new Map();
    seen.add(cls);
    let methods = new Map();
    if (cls.extendsType) {
      const baseName = typeText(cls.extendsType).replace(/<.*$/, "");
      const base = this.classes.get(baseName);
      if (base) methods = this.methods(base, seen);
    }
    for (const member of cls.members) {
      if (member.kind !== NodeKind.MethodDeclaration) continue;
      if (isFlag(member, CommonFlags.Constructor)) {
        if (cls === this.contractDecl && member.signature.parameters.length) {
          throw new TransformError(
            member,
            `the constructor of @contract class ${cls.name.text} cannot take parameters: ` +
              `put deployment logic in a @deploy method (it receives the constructor arguments)`,
          );
        }
        continue;
      }
      const name = member.name.text;
      if (isFlag(member, CommonFlags.Static | CommonFlags.Get | CommonFlags.Set)) continue;
      if (isFlag(member, CommonFlags.Private | CommonFlags.Protected)) {
        methods.delete(name);
        continue;
      }
      methods.set(name, member);
    }
    return methods;
  }

  contract(cls) {
    this.contractDecl = cls;
    const cname = cls.name.text;
    if (cls.typeParameters && cls.typeParameters.length) {
      throw new TransformError(cls, `@contract class ${cname} cannot be generic`);
    }
    if (isFlag(cls, CommonFlags.Abstract)) throw new TransformError(cls, `@contract class ${cname} cannot be abstract`);
    const abi = [];
    const helpers = [];
    const cases = [];
    let deploy = null;
    const selectors = new Map();
    for (const [name, method] of this.methods(cls)) {
      const decorators = decoratorNames(method);
      if (decorators.includes("payable")) {
        throw new TransformError(method, `${name}: @payable is not supported: SuperVM calls carry no value`);
      }
      const params = this.params(method);
      const ret = this.returnType(method);
      if (decorators.includes("deploy")) {
        if (deploy) throw new TransformError(method, `only one @deploy method (found ${deploy.name} and ${name})`);
        if (ret) throw new TransformError(method.signature.returnType, `@deploy method ${name} must return void`);
        deploy = { name, params };
        continue;
      }
      const marked = MUTABILITY.filter((m) => decorators.includes(m));
      if (marked.length > 1) throw new TransformError(method, `${name}: choose one of @view, @pure`);
      const mutability = marked[0] || "nonpayable";
      const signature = functionSignature(name, params.map((p) => p.type));
      const selector = toHex(keccak256(signature).subarray(0, 4));
      if (selectors.has(selector)) {
        throw new TransformError(method, `${signature} and ${selectors.get(selector)} have the same selector 0x${selector}`);
      }
      selectors.set(selector, signature);
      abi.push({
        type: "function",
        name,
        inputs: params.map((p) => abiParam(p.name, p.type)),
        outputs: ret ? [abiParam("", ret)] : [],
        stateMutability: mutability,
      });
      const fname = `__supervm_call_${name}`;
      const lines = [];
      const args = params.map((p, i) => {
        lines.push(`const __v${i} = ${decodeExpr(p.type, "__a", "__n", 32 * i)};`);
        return `__v${i}`;
      });
      if (ret) {
        lines.push(`const __r = __c.${name}(${args.join(", ")});`);
        lines.push(...encodeTuple([ret], ["__r"], "__out", "__size"));
        lines.push(`${RT}.setReturn(__out, __size);`);
      } else {
        lines.push(`__c.${name}(${args.join(", ")});`);
      }
      helpers.push(`function ${fname}(__c: ${cname}, __a: usize, __n: usize): void {\n  ${lines.join("\n  ")}\n}`);
      cases.push(`    case 0x${selector}: { ${fname}(__c, __a, __n); return; } // ${signature}`);
    }

    const code = [...helpers];
    code.push(
      [
        `export function call(): void {`,
        `  const __p = ${RT}.input();`,
        `  const __len = ${RT}.inputLength();`,
        `  const __sel = ${RT}.selector(__p, __len);`,
        `  const __a = __p + 4;`,
        `  const __n = __len - 4;`,
        `  const __c = new ${cname}();`,
        `  switch (__sel) {`,
        ...cases,
        `  }`,
        `  ${RT}.unknownSelector(__sel);`,
        `}`,
      ].join("\n"),
    );
    if (deploy) {
      const lines = [`${RT}.deployOnce();`, `const __a = ${RT}.input();`, `const __n = ${RT}.inputLength();`, `const __c = new ${cname}();`];
      const args = deploy.params.map((p, i) => {
        lines.push(`const __v${i} = ${decodeExpr(p.type, "__a", "__n", 32 * i)};`);
        return `__v${i}`;
      });
      lines.push(`__c.${deploy.name}(${args.join(", ")});`);
      code.push(`export function deploy(): void {\n  ${lines.join("\n  ")}\n}`);
      abi.unshift({
        type: "constructor",
        inputs: deploy.params.map((p) => abiParam(p.name, p.type)),
        stateMutability: "nonpayable",
      });
    }
    return { abi, code: code.join("\n\n") };
  }
}
