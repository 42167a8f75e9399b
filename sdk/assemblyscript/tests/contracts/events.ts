// A library file: declarations used by AbiTypes.ts, not a contract entry itself.
import { Address, Bytes32, Indexed } from "@supervm/sdk";

@event export declare function Mixed(x: Indexed<u32>, y: Bytes32, sender: Indexed<Address>): void;
@event export declare function Opaque(): void;
