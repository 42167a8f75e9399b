// `import { ... } from "@supervm/sdk"` resolves here; the sources are in assembly/.
export * from "./assembly/index";
