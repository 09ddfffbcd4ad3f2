/**
 * The picture `npm run bench` draws: one group of horizontal bars per scenario, one bar per
 * server (wsraw, ws, uWebSockets.js, the raw node:net ceiling or floor), each as long as
 * its median over the longest bar of its group, labelled with the median and wsraw's ratio
 * to it. Units differ between scenarios, so bars compare only within a group. Plain SVG
 * text, no dependencies.
 */

/** Bar colours by server; servers not named here are grey. */
const COLOURS = { wsraw: "#2f6fdf", ws: "#8c8c8c", uws: "#e08a1e", net: "#3a9a5b" };
const LABELS = { wsraw: "wsraw", ws: "ws", uws: "uWebSockets.js", net: "node:net" };

const WIDTH = 820;
const LABEL_WIDTH = 150;
const BAR_AREA = 470;
const BAR_HEIGHT = 16;
const BAR_GAP = 4;
const GROUP_GAP = 22;
const TITLE_HEIGHT = 20;

const escape = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * `groups`: [{ title, unit, lowerIsBetter, bars: [{ server, value, label }] }] where `label`
 * is the text after the bar (the median, and the ratio). Returns the SVG document.
 */
export function renderChart(groups, { heading, footnote }) {
  const parts = [];
  let y = 34;
  for (const group of groups) {
    parts.push(
      `<text x="0" y="${y + 13}" class="group">${escape(group.title)}</text>` +
        `<text x="${WIDTH}" y="${y + 13}" class="unit" text-anchor="end">${escape(group.unit)}${group.lowerIsBetter ? " (lower is better)" : ""}</text>`,
    );
    y += TITLE_HEIGHT;
    const longest = Math.max(...group.bars.map((bar) => bar.value).filter(Number.isFinite), 0);
    for (const bar of group.bars) {
      const key = bar.server.startsWith("net") ? "net" : bar.server;
      const length = longest > 0 && Number.isFinite(bar.value) ? Math.max(1, (bar.value / longest) * BAR_AREA) : 0;
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 12}" class="server" text-anchor="end">${escape(LABELS[key] ?? bar.server)}</text>` +
          `<rect x="${LABEL_WIDTH}" y="${y}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLOURS[key] ?? "#b0b0b0"}"/>` +
          `<text x="${LABEL_WIDTH + length + 6}" y="${y + 12}" class="value">${escape(bar.label)}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += GROUP_GAP;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    "<style>.heading{font-size:15px;font-weight:600}.group{font-size:13px;font-weight:600}.unit,.foot{font-size:11px;fill:#666}.server{font-size:12px}.value{font-size:11px;fill:#333}</style>",
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="0" y="18" class="heading">${escape(heading)}</text>`,
    ...parts,
    `<text x="0" y="${height - 6}" class="foot">${escape(footnote)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
