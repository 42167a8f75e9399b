// The live chart of the latest blocks: transactions per block as bars (left scale) and gas
// used per block as a line (right scale), drawn as SVG, redrawn as each block arrives.

const NS = "http://www.w3.org/2000/svg";
const HEIGHT = 200;
const PAD = { top: 12, right: 56, bottom: 24, left: 36 };

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A rounded-up "nice" maximum for a scale (1, 2 or 5 times a power of ten). */
export function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function compact(value) {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return String(value);
}

/**
 * Draw `blocks` (oldest first: {number, transactions, gasUsed}) into `container`.
 * The SVG scales to the container's width (viewBox), so it reads on a phone too.
 */
export function drawChart(container, blocks, slots = 30) {
  // Drawn at the container's own width, so the labels keep their size on a phone.
  const WIDTH = Math.max(300, Math.round(container.clientWidth || 720));
  slots = Math.max(blocks.length ? 1 : slots, Math.min(slots, Math.floor((WIDTH - 92) / 14)));
  blocks = blocks.slice(-slots);
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": "Transactions and gas used per block",
    class: "chart",
  });
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const maxTxs = niceMax(Math.max(1, ...blocks.map((b) => b.transactions)));
  const maxGas = niceMax(Math.max(21000, ...blocks.map((b) => b.gasUsed)));
  // A fixed number of slots, the newest block on the right: bars keep their width as the
  // chain grows from its first blocks.
  const count = Math.max(slots, blocks.length);
  const slot = innerW / count;
  const offset = count - blocks.length;
  const y = (fraction) => PAD.top + innerH * (1 - fraction);

  for (const fraction of [0, 0.5, 1]) {
    const txs = maxTxs * fraction;
    chart.append(
      svg("line", { x1: PAD.left, x2: PAD.left + innerW, y1: y(fraction), y2: y(fraction), class: "grid" }),
      // Transactions come whole: no "0.5" label.
      Number.isInteger(txs) ? svg("text", { x: PAD.left - 6, y: y(fraction) + 4, "text-anchor": "end", class: "axis txs" }, compact(txs)) : "",
      svg("text", { x: PAD.left + innerW + 6, y: y(fraction) + 4, class: "axis gas" }, compact(maxGas * fraction)),
    );
  }
  const points = [];
  blocks.forEach((block, i) => {
    const x = PAD.left + (offset + i) * slot;
    const height = (innerH * block.transactions) / maxTxs;
    const bar = svg("rect", {
      x: x + slot * 0.15,
      y: PAD.top + innerH - height,
      width: Math.max(1, slot * 0.7),
      height,
      class: "bar",
    });
    bar.append(svg("title", {}, `block ${block.number}: ${block.transactions} transactions, ${block.gasUsed} gas`));
    chart.append(bar);
    points.push(`${x + slot / 2},${y(block.gasUsed / maxGas)}`);
  });
  if (points.length) chart.append(svg("polyline", { points: points.join(" "), class: "gas-line" }));
  if (blocks.length) {
    const first = blocks[0].number;
    const last = blocks[blocks.length - 1].number;
    chart.append(
      svg("text", { x: PAD.left + offset * slot, y: HEIGHT - 6, class: "axis" }, `#${first}`),
      svg("text", { x: PAD.left + innerW, y: HEIGHT - 6, "text-anchor": "end", class: "axis" }, `#${last}`),
    );
  }
  container.replaceChildren(chart);
}
