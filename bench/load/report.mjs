/** Statistics over runs and the text table that `npm run bench` prints. */

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >>> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Slowest-to-fastest range of the runs as a percentage of their median. */
export function spreadPercent(values) {
  const m = median(values);
  if (values.length < 2 || m === 0) return 0;
  return ((Math.max(...values) - Math.min(...values)) / m) * 100;
}

/** A figure with a precision that suits its size: 1,234,567 / 12,345 / 123.4 / 1.23. */
export function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(1);
  return value.toFixed(2);
}

export const percent = (share) => `${Math.round(share * 100)}%`;

export const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a");

/**
 * Renders rows (arrays of cells) under `columns` ({ title, align: "left" | "right" }), with
 * a rule under the header and a blank-free layout: every column as wide as its widest cell.
 */
export function renderTable(columns, rows) {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => String(r[i] ?? "").length)));
  const line = (cells) =>
    cells
      .map((cell, i) => {
        const text = String(cell ?? "");
        return columns[i].align === "right" ? text.padStart(widths[i]) : text.padEnd(widths[i]);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.title)), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join(
    "\n",
  );
}
