// Drives the explorer in headless Chromium (playwright-core) the way a developer would use it,
// screenshotting each page, and prints what it found as one JSON line for the pytest test
// (tests/explorer/test_explorer_browser.py) to check. Environment:
//   EXPLORER_URL   the explorer (the node's RPC URL)       RPC_URL  the node's JSON-RPC URL
//   TX_HASH        the ERC20 transfer to look for          BLOCK    its block number (decimal)
//   TOKEN          the token's address                     FAILED_TX  a reverted transfer
//   SENDER         a dev account the node signs for (eth_sendTransaction), for the live update
//   OUT_DIR        where the screenshots go                CHROMIUM  default /usr/bin/chromium

import { chromium } from "playwright-core";
import { join } from "node:path";

const env = process.env;
const out = env.OUT_DIR;
const result = { screenshots: [], console: [], pageErrors: [] };
const TIMEOUT = 15_000;

async function rpc(method, ...params) {
  const response = await fetch(env.RPC_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

async function shot(page, name) {
  const path = join(out, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  result.screenshots.push(path);
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") result.console.push(message.text());
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));

  // -- home: latest blocks and transactions, the chart, and a live update -------------------
  await page.goto(env.EXPLORER_URL);
  await page.locator("#connection.connected").waitFor();
  await page.locator("#latest-blocks table").waitFor();
  await page.locator("#chart svg .gas-line").waitFor();
  result.homeHasBlock = await page.locator(`#latest-blocks a[href="#/block/${env.BLOCK}"]`).count();
  result.homeHasTx = await page.locator(`#latest-transactions a[href="#/tx/${env.TX_HASH}"]`).count();
  const before = await page.locator("#chart svg rect.bar").count();
  const liveHash = await rpc("eth_sendTransaction", { from: env.SENDER, to: env.SENDER, value: "0x1" });
  await page.locator(`#latest-transactions a[href="#/tx/${liveHash}"]`).waitFor();
  result.liveTx = liveHash;
  result.chartBarsBefore = before;
  result.chartBarsAfter = await page.locator("#chart svg rect.bar").count();
  await page.locator("#latest-transactions td", { hasText: "transfer" }).first().waitFor();
  await shot(page, "home");

  // -- the block, found from the home page ----------------------------------------------------
  await page.locator(`#latest-blocks a[href="#/block/${env.BLOCK}"]`).click();
  await page.locator("#block-fields").waitFor();
  result.blockTitle = await page.locator("h1").innerText();
  result.blockFields = await page.locator("#block-fields").innerText();
  await shot(page, "block");

  // -- the transaction, from the block's list ---------------------------------------------------
  await page.locator(`#block-transactions a[href="#/tx/${env.TX_HASH}"]`).click();
  await page.locator("#decoded-call").waitFor();
  result.txUrl = page.url();
  result.txFields = await page.locator("#tx-fields").innerText();
  result.call = await page.locator("#decoded-call").innerText();
  result.logs = await page.locator("#tx-logs").innerText();
  await shot(page, "transaction");

  // -- the token's page, from the transaction's "To" ------------------------------------------
  await page.locator(`#tx-fields a[href="#/address/${env.TOKEN}" i]`).first().click();
  await page.locator("#address-fields").waitFor();
  await page.locator("#address-storage table").waitFor();
  await page.locator("#address-events .event").first().waitFor();
  await page.locator("#address-transactions table").waitFor();
  result.addressTitle = await page.locator("h1").innerText();
  result.addressFields = await page.locator("#address-fields").innerText();
  result.addressAbi = await page.locator("#address-abi").innerText();
  result.addressEvents = await page.locator("#address-events").innerText();
  result.storageRows = await page.locator("#address-storage tbody tr").count();
  result.addressTxs = await page.locator("#address-transactions").innerText();
  await shot(page, "address");

  // -- a reverted transfer: its revert reason ----------------------------------------------------
  await page.goto(`${env.EXPLORER_URL}#/tx/${env.FAILED_TX}`);
  await page.locator("#revert-reason").waitFor();
  result.revertReason = await page.locator("#revert-reason").innerText();
  await shot(page, "transaction-reverted");

  // -- search: by hash, block number and address, through the search box ----------------------
  const search = async (query, selector) => {
    await page.locator("#search input").fill(query);
    await page.locator("#search input").press("Enter");
    await page.locator(selector).waitFor();
    return page.url();
  };
  await page.goto(env.EXPLORER_URL);
  await page.locator("#latest-blocks table").waitFor();
  result.searchHashUrl = await search(env.TX_HASH, "#decoded-call");
  await shot(page, "search-by-hash");
  result.searchBlockUrl = await search(env.BLOCK, "#block-fields");
  result.searchAddressUrl = await search(env.TOKEN.toLowerCase(), "#address-fields");
  await search("no such thing", "[role=alert]");
  result.searchNothing = await page.locator("[role=alert]").innerText();
  await page.locator("#search input").fill("");

  // -- a phone's width: the transaction page fits without scrolling sideways ------------------
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${env.EXPLORER_URL}#/tx/${env.TX_HASH}`);
  await page.locator("#decoded-call").waitFor();
  result.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(page, "transaction-phone");
  await page.goto(`${env.EXPLORER_URL}#/`);
  await page.locator("#latest-blocks table").waitFor();
  result.phoneHomeOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(page, "home-phone");
} catch (error) {
  result.error = String(error?.stack ?? error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
