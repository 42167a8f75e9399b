// After tsc: tell Node which module system each build folder holds (the package itself has no
// "type", so that neither build depends on it), and fail if a build is missing.
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
for (const [folder, type] of [["esm", "module"], ["cjs", "commonjs"]]) {
  if (!existsSync(join(dist, folder, "index.js"))) {
    console.error(`dist/${folder}/index.js is missing: tsc did not build it`);
    process.exit(1);
  }
  writeFileSync(join(dist, folder, "package.json"), JSON.stringify({ type }) + "\n");
}
