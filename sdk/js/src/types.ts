// Contract types computed from an ABI written `as const`: each function of the ABI becomes a
// method with typed arguments and result, as typechain generates, without a code generator.
// An ABI whose entries are not literal types (a JSON file read at run time) gives the untyped
// ethers Contract's methods instead.
import type {
  AddressLike,
  BaseContract,
  BaseContractMethod,
  BigNumberish,
  BytesLike,
  ContractTransactionResponse,
  JsonFragment,
  Result,
} from "ethers";

/** An ABI parameter, as far as the types need it. */
export interface AbiParameter {
  readonly name?: string;
  readonly type: string;
  readonly components?: readonly AbiParameter[];
}

type IntType = `uint${string}` | `int${string}`;

/** What a method accepts for an ABI type. */
export type AbiInput<T extends string> = T extends `${string}[${string}]`
  ? readonly unknown[]
  : T extends IntType
    ? BigNumberish
    : T extends "address"
      ? AddressLike
      : T extends "bool"
        ? boolean
        : T extends "string"
          ? string
          : T extends `bytes${string}`
            ? BytesLike
            : unknown;

/** What ethers decodes an ABI type to. */
export type AbiOutput<T extends string> = T extends `${string}[${string}]`
  ? Result
  : T extends IntType
    ? bigint
    : T extends "address" | "string" | `bytes${string}`
      ? string
      : T extends "bool"
        ? boolean
        : T extends "tuple"
          ? Result
          : unknown;

type Inputs<P> = P extends readonly AbiParameter[]
  ? { -readonly [K in keyof P]: P[K] extends AbiParameter ? AbiInput<P[K]["type"]> : never }
  : unknown[];

type Output<P> = P extends readonly []
  ? void
  : P extends readonly [infer One extends AbiParameter]
    ? AbiOutput<One["type"]>
    : Result;

interface FunctionEntry {
  readonly type: "function";
  readonly name: string;
  readonly inputs?: readonly AbiParameter[];
  readonly outputs?: readonly AbiParameter[];
  readonly stateMutability?: string;
}

type MethodOf<F extends FunctionEntry> = F["stateMutability"] extends "view" | "pure"
  ? BaseContractMethod<Inputs<F["inputs"]> & unknown[], Output<F["outputs"]>, Output<F["outputs"]>>
  : BaseContractMethod<Inputs<F["inputs"]> & unknown[], Output<F["outputs"]>, ContractTransactionResponse>;

type Functions<A extends readonly unknown[]> = Extract<A[number], FunctionEntry>;

/** Whether `A` was written `as const` (its entries' `type`s are literals, not `string`). */
type IsLiteral<A extends readonly unknown[]> = A[number] extends { readonly type: infer T }
  ? string extends T
    ? false
    : true
  : false;

/** The methods of a contract with ABI `A`: typed when `A` is a literal (`as const`) ABI. */
export type ContractMethods<A extends readonly unknown[]> =
  IsLiteral<A> extends true
    ? { [F in Functions<A> as F["name"]]: MethodOf<F> }
    : { [name: string]: BaseContractMethod };

/** A deployed contract: an ethers BaseContract with one method per ABI function. */
export type SuperVMContract<A extends readonly unknown[] = readonly JsonFragment[]> = BaseContract &
  ContractMethods<A>;

/** The constructor's argument types of ABI `A`. */
export type ConstructorArgs<A extends readonly unknown[]> = Extract<
  A[number],
  { readonly type: "constructor" }
> extends { readonly inputs: infer P }
  ? Inputs<P>
  : IsLiteral<A> extends true
    ? []
    : unknown[];
