// Runs asc (the AssemblyScript compiler) from node_modules for one or more entry files, in one
// Node.js process. Reads a JSON request on stdin, writes a JSON response on stdout:
//
//   request:  {asc, transform, jobs: [{entry, baseDir, args}]}
//   response: {version, results: [{ok, wasm (base64 or null), stderr}]}
//
// Nothing is fetched: asc and the SDK's transform come from the given paths.
import { pathToFileURL } from "node:url";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const request = JSON.parse(await readStdin());
const asc = await import(pathToFileURL(request.asc).href);
const results = [];
for (const job of request.jobs) {
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  let wasm = null;
  const argv = [
    job.entry,
    "--baseDir", job.baseDir,
    "--outFile", "__supervm_out.wasm",
    "--transform", request.transform,
    "--noColors",
    ...job.args,
  ];
  const { error } = await asc.main(argv, {
    stdout,
    stderr,
    writeFile(name, contents) {
      if (name.endsWith("__supervm_out.wasm")) wasm = Buffer.from(contents);
      return true;
    },
  });
  results.push({
    ok: !error && wasm !== null,
    wasm: wasm ? wasm.toString("base64") : null,
    stderr: stderr.toString() + (error && !stderr.toString() ? String(error) : ""),
  });
}
process.stdout.write(JSON.stringify({ version: asc.version, results }));
