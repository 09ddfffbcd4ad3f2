/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/run.mjs --profile wsraw`):
 * the functions with the most self time, and the share of each source file, as a share of
 * the busy (non-idle) time; with `--per N` (e.g. the number of messages the server
 * handled), also nanoseconds per item.
 *
 *   node bench/load/cpuprofile-top.mjs FILE.cpuprofile [--top 30] [--per N]
 */
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i === -1 ? fallback : Number(argv.splice(i, 2)[1]);
};
const top = option("--top", 30);
const per = option("--per", 0);
const [file] = argv;
if (file === undefined) {
  console.error("usage: node bench/load/cpuprofile-top.mjs FILE.cpuprofile [--top 30] [--per N]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));

// Self time of a node: the time deltas of the samples that landed in it.
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
}
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const shortUrl = (url) => url.replace(/^file:\/\//, "").replace(/^.*\/(dist|bench|node_modules)\//, "$1/");
const byFunction = new Map();
const byFile = new Map();
let idleUs = 0;
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  if (functionName === "(idle)") {
    idleUs += us;
    continue;
  }
  const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : "(native)";
  const key = `${functionName || "(anonymous)"}  ${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const fileKey = url ? shortUrl(url) : functionName.startsWith("(") ? functionName : "(native code)";
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}
const busyUs = [...byFile.values()].reduce((a, b) => a + b, 0);

const show = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    const perItem = per > 0 ? `${((us * 1000) / per).toFixed(0).padStart(6)} ns  ` : "";
    console.log(`${((us / busyUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${perItem}${key}`);
  }
};
console.log(
  `${file}: ${(busyUs / 1000).toFixed(0)} ms busy, ${(idleUs / 1000).toFixed(0)} ms idle` +
    (per > 0 ? `; ${((busyUs * 1000) / per).toFixed(0)} ns busy per item (${per} items)` : ""),
);
show("self time by function (% of busy time)", byFunction, top);
show("self time by file", byFile, 15);
