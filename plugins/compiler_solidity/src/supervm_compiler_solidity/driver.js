"use strict";
// SuperVM's solc-js driver: one request on stdin, one response on stdout.
//
// Request:  {"solc": "<dir of the solc npm package>",
//            "base": "<dir the source unit names are relative to>",
//            "node_modules": ["<dir>", ...],
//            "input": <solc standard JSON input>}
// Response: {"version": "<solc-js version>", "output": <solc standard JSON output>,
//            "resolved": {"<imported source unit name>": "<file it was read from>"}}
//
// Imports solc cannot find among the given sources come to `findImports` as source unit names:
// a relative import is already joined to the importing unit's name by solc, so
// `./IERC20.sol` in `@openzeppelin/contracts/token/ERC20/ERC20.sol` arrives as
// `@openzeppelin/contracts/token/ERC20/IERC20.sol`. A name is looked up under the base
// directory first (the sources' own tree), then in each node_modules directory, in order.
// Toolchain failures exit non-zero with one line on stderr; compile errors are solc's output.

const fs = require("fs");
const path = require("path");

function fail(message, code) {
  process.stderr.write(message.replace(/\s+/g, " ").trim() + "\n");
  process.exit(code);
}

function main() {
  let request;
  try {
    request = JSON.parse(fs.readFileSync(0, "utf8"));
  } catch (err) {
    fail(`driver: bad request: ${err.message}`, 2);
  }

  let solc;
  try {
    solc = require(request.solc);
  } catch (err) {
    fail(`cannot load solc-js from ${request.solc}: ${err.message}`, 3);
  }

  const resolved = {};
  function findImports(unit) {
    const candidates = [];
    if (path.isAbsolute(unit)) {
      candidates.push(unit);
    } else {
      candidates.push(path.resolve(request.base, unit));
      for (const dir of request.node_modules) {
        candidates.push(path.join(dir, unit));
      }
    }
    for (const file of candidates) {
      try {
        if (fs.statSync(file).isFile()) {
          resolved[unit] = file;
          return { contents: fs.readFileSync(file, "utf8") };
        }
      } catch (err) {
        // not there: try the next candidate
      }
    }
    return { error: `not found in ${candidates.join(", ")}` };
  }

  const output = JSON.parse(solc.compile(JSON.stringify(request.input), { import: findImports }));
  process.stdout.write(JSON.stringify({ version: solc.version(), output, resolved }));
}

main();
