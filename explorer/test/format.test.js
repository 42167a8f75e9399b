// Unit tests of the app's pure modules and of the build's checks (node --test).
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { check } from "../build.mjs";
import { niceMax } from "../src/js/chart.js";
import { age, ascii, big, classify, ether, etherShort, grouped, gwei, short, units } from "../src/js/format.js";

test("quantities and units", () => {
  assert.equal(big("0x1a"), 26n);
  assert.equal(grouped(1234567n), "1,234,567");
  assert.equal(grouped(-1000n), "-1,000");
  assert.equal(units(1500000000000000000n), "1.5");
  assert.equal(ether("0xde0b6b3a7640000"), "1 ETH");
  assert.equal(ether(0n), "0 ETH");
  assert.equal(gwei(1000000007n), "1.000000007 gwei");
  assert.equal(etherShort(1n), "< 0.000001 ETH");
  assert.equal(etherShort(1234567891234567891n), "1.234567 ETH");
  assert.equal(units(10n ** 30n), "1,000,000,000,000");
});

test("short hashes and ages", () => {
  const hash = "0x" + "ab".repeat(32);
  assert.equal(short(hash, 6), "0xababab…abab");
  assert.equal(short("0x12"), "0x12");
  assert.equal(age(100, 105), "5 s ago");
  assert.equal(age(0, 3 * 3600), "3 h ago");
});

test("search classification", () => {
  assert.deepEqual(classify(" 42 "), { kind: "block", value: "42" });
  assert.deepEqual(classify("0x2a"), { kind: "block", value: "42" });
  assert.equal(classify("0x" + "Ab".repeat(32)).kind, "hash");
  assert.equal(classify("0x" + "Ab".repeat(32)).value, "0x" + "ab".repeat(32));
  assert.deepEqual(classify("0x" + "12".repeat(20)), { kind: "address", value: "0x" + "12".repeat(20) });
  assert.equal(classify("ab".repeat(32)).kind, "hash");
  assert.equal(classify("hello").kind, "unknown");
  assert.equal(classify("0x" + "1".repeat(30)).kind, "unknown");
});

test("ascii", () => {
  assert.equal(ascii("0x535550"), "SUP");
  assert.equal(ascii("0x00"), null);
  assert.equal(ascii("0x"), null);
});

test("chart scale", () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(3), 5);
  assert.equal(niceMax(21000), 50000);
  assert.equal(niceMax(100), 100);
});

test("the app imports only its own files", () => {
  const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
  assert.deepEqual(check(src), []);
  const bad = mkdtempSync(join(tmpdir(), "explorer-"));
  mkdirSync(join(bad, "js"));
  writeFileSync(join(bad, "js", "a.js"), 'import { x } from "lodash";\nimport "./missing.js";\n');
  writeFileSync(join(bad, "index.html"), '<script src="https://cdn.example/x.js"></script>');
  const problems = check(bad);
  assert.equal(problems.length, 3, problems.join("\n"));
});
