// The `supervm` section of hardhat.config.js, as Hardhat's config types see it.
import "hardhat/types/config";

/** What hardhat.config.js may set under `supervm`. */
export interface SupervmUserConfig {
  /** The `supervm` command (default: `$SUPERVM`, `supervm` on PATH, or `.venv/bin/supervm` above the project). */
  command?: string;
  /** Run wasm-opt on the compiled modules (`supervm compile --optimize`). */
  optimize?: boolean;
  /** The node_modules holding assemblyscript, as-bignum and @supervm/sdk (default: searched upwards). */
  nodeModules?: string;
  /** The dev node `hardhat test --network supervm` starts when none answers at the network's URL. */
  node?: {
    /** Start one when none answers (default true). */
    autoStart?: boolean;
    /** Its port: default the supervm network URL's; 0 picks a free one (the URL follows it). */
    port?: number;
    /** Seconds between blocks (default 0: a block as soon as transactions arrive). */
    blockTime?: number;
    /** More arguments for `supervm node --dev`. */
    args?: string[];
  };
}

/** The resolved `supervm` section. */
export interface SupervmConfig {
  command?: string;
  optimize: boolean;
  nodeModules?: string;
  node: { autoStart: boolean; port?: number; blockTime?: number; args: string[] };
}

declare module "hardhat/types/config" {
  interface HardhatUserConfig {
    supervm?: SupervmUserConfig;
  }
  interface HardhatConfig {
    supervm: SupervmConfig;
  }
}
