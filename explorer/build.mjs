// Assembles the explorer into the explorer plugin's package data: the app is plain ES modules
// and needs no bundling, so "building" is copying src/ into
// plugins/explorer/src/supervm_explorer/static/ (replacing what was there) after checking that
// every module imports only files of the app (no npm package, no CDN at run time).
//
//   npm run build -w @supervm/explorer          (make install runs it)
//   node explorer/build.mjs --out DIR           (somewhere else)

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(here, "..", "plugins", "explorer", "src", "supervm_explorer", "static");

/** Every file under `dir`, relative to it. */
export function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path).map((f) => join(name, f)) : [name];
  });
}

/** Problems with the app's sources: imports that are not relative files of the app, and
 *  references to other origins in HTML and CSS. */
export function check(root) {
  const problems = [];
  for (const file of files(root)) {
    const text = readFileSync(join(root, file), "utf8");
    if (file.endsWith(".js")) {
      for (const match of text.matchAll(/^\s*import\s[^;]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm)) {
        const spec = match[1] ?? match[2];
        if (!spec.startsWith("./") && !spec.startsWith("../")) problems.push(`${file}: imports ${spec}, not a file of the app`);
        else if (!existsSync(join(root, dirname(file), spec))) problems.push(`${file}: imports ${spec}, which does not exist`);
      }
    }
    if (/\.(html|css)$/.test(file) && /(src|href)=["']https?:|url\(["']?https?:/i.test(text)) {
      problems.push(`${file}: loads something from another origin (no CDN at run time)`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = check(src);
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(src, out, { recursive: true });
  const listed = files(out).sort();
  writeFileSync(join(out, "BUILD.txt"), `Built from explorer/src by explorer/build.mjs: do not edit here.\n${listed.join("\n")}\n`);
  console.log(`explorer: ${listed.length} files into ${relative(process.cwd(), out) || out}`);
}
