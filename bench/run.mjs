/**
 * `npm run bench`: wsraw beside `ws` (and `ws` + bufferutil when installed),
 * uWebSockets.js (`uws`, when its optional dev dependency is installed and loads) and a bare
 * node:net server (the ceiling, or the memory floor) on loopback, every scenario, one table
 * of medians with their spread and wsraw's ratios, and an SVG chart of them.
 *
 *   node bench/run.mjs [--quick] [--only name[,name...]] [--runs N] [--seconds S]
 *                      [--profile server] [--chart FILE]
 *
 * Each server runs in its own process pinned to core 0, the load generator
 * (bench/load/client.mjs) in another pinned to core 1 (`taskset`, when available). Runs
 * of the servers alternate (wsraw, ws, ..., then again), so slow phases of a shared machine
 * hit all of them alike; the first run of each server is a discarded warm-up.
 *
 * The client scenarios (client-echo-*) turn this around: one echo server
 * (bench/servers/frame-echo.mjs) on core 0, and the clients under test (bench/clients/echo.mjs,
 * wsraw's `connect` and ws's `WebSocket`) each in a process on core 1, alternating the same
 * way; what is compared is what each client process gets done.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuShare, startChild, tasksetAvailable, waitShare } from "./load/rpc.mjs";
import { CHROMIUM_OFFER } from "./load/deflate.mjs";
import { formatNumber, median, percent, ratio, renderTable, spreadPercent } from "./load/report.mjs";
import { renderChart } from "./load/chart.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
/** Outside the tree: profiles are not committed. */
const PROFILE_DIR = join(tmpdir(), "wsraw-bench-profiles");

// ---- Options ----

const USAGE = `usage: node bench/run.mjs [--quick] [--only name[,name...]] [--runs N] [--seconds S] [--profile process] [--chart FILE]
  --quick      a ~2 minute smoke run (fewer, shorter runs; 2,000 idle connections, 500 in deflate-memory,
               250 deflate-broadcast members)
  --only       run only these scenarios: ${"echo-small, echo-rtt, echo-16k, echo-1m, handshake, broadcast, idle-memory, frame-codec,"}
               ${"deflate-memory, deflate-echo-1k, deflate-echo-16k, deflate-broadcast,"}
               ${"client-echo-small, client-echo-1m, tls-echo-16k"}
  --runs N     measured runs per server and scenario (default 5, quick 3)
  --seconds S  length of one measured run (default 3, quick 0.6)
  --chart FILE where the SVG chart of the medians goes (default: docs/bench.svg for a full run of every
               scenario, ${join(tmpdir(), "wsraw-bench.svg")} otherwise)
  --profile S  run server S (wsraw, ws, uws, net, frame-echo), the load generator (load), or a client under test
               (wsraw-client, ws-client) with --cpu-prof; the .cpuprofile files go to
               ${PROFILE_DIR} (summarise one with node bench/load/cpuprofile-top.mjs FILE)`;

function parseArgs(argv) {
  const options = { quick: false, only: undefined, runs: undefined, seconds: undefined, profile: undefined, chart: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === "--quick") options.quick = true;
    else if (arg === "--only") options.only = value().split(",");
    else if (arg === "--runs") options.runs = Number(value());
    else if (arg === "--seconds") options.seconds = Number(value());
    else if (arg === "--profile") options.profile = value();
    else if (arg === "--chart") options.chart = value();
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return options;
}

const args = parseArgs(process.argv.slice(2));
const PLAN = {
  runs: args.runs ?? (args.quick ? 3 : 5),
  runMs: Math.round((args.seconds ?? (args.quick ? 0.6 : 3)) * 1000),
  warmupMs: args.quick ? 400 : 1500,
  idleConnections: args.quick ? 2000 : 10_000,
  memoryRuns: args.quick ? 1 : 3,
  // How long a memory run waits for V8 to shrink its young generation (bench/servers/harness.mjs).
  settleMs: 60_000,
  deflateMemoryConnections: args.quick ? 500 : 2000,
  deflateBroadcastMembers: args.quick ? 250 : 1000,
};

// ---- Servers under test ----

const CORES = cpus().length;
const PIN = tasksetAvailable(CORES);
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const HAS_BUFFERUTIL = existsSync(join(root, "node_modules", "bufferutil", "package.json"));
/** uWebSockets.js: an optional dev dependency; without it the uws column is left out, and said so. */
const UWS_PACKAGE = "@trufflesuite/uws-js-unofficial";
const UWS_VERSION = loads(UWS_PACKAGE) ? packageVersion(UWS_PACKAGE) : undefined;

const SERVERS = {
  wsraw: { script: "servers/wsraw.mjs", env: {} },
  ws: { script: "servers/ws.mjs", env: { WS_NO_BUFFER_UTIL: "1" } },
  uws: { script: "servers/uws.mjs", env: {} },
  "ws+bufferutil": { script: "servers/ws.mjs", env: {} },
  net: { script: "servers/net-echo.mjs", env: {}, raw: true },
  /** wsraw without permessage-deflate, beside the deflate servers in deflate-memory. */
  "wsraw (no deflate)": { script: "servers/wsraw.mjs", env: { BENCH_PERMESSAGE_DEFLATE: "0" } },
  /** The deflate echo ceiling: the net echo server accepting permessage-deflate, no zlib (see there). */
  "net deflate": { script: "servers/net-echo.mjs", env: {} },
  /** The broadcast ceiling: the net server's /broadcast, which relays frames with no WebSocket state (see there). */
  "net broadcast": { script: "servers/net-echo.mjs", env: {} },
  /** The client scenarios' echo server: node:net, unmasks and echoes frames (see there). */
  "frame-echo": { script: "servers/frame-echo.mjs", env: {} },
};

/**
 * The clients under test of the client scenarios (bench/clients/echo.mjs), and the load
 * generator driving the same echo server as their ceiling. `ws` is judged without
 * bufferutil, as on the server side.
 */
const CLIENTS = {
  wsraw: { label: "wsraw client", env: { BENCH_CLIENT: "wsraw" }, profile: "wsraw-client" },
  ws: { label: "ws client", env: { BENCH_CLIENT: "ws", WS_NO_BUFFER_UTIL: "1" }, profile: "ws-client" },
  "ws+bufferutil": { label: "ws+bufferutil client", env: { BENCH_CLIENT: "ws" }, profile: "ws-client" },
  load: { label: "load generator (ceiling)" },
};

/**
 * BENCH_WSRAW_COMPARE=/path/to/dist adds "wsraw*", another build of wsraw (a patched copy),
 * measured beside the current one in every scenario.
 */
const COMPARE_DIST = process.env.BENCH_WSRAW_COMPARE;
if (COMPARE_DIST) {
  SERVERS["wsraw*"] = { script: "servers/wsraw.mjs", env: { BENCH_WSRAW_DIST: COMPARE_DIST } };
  CLIENTS["wsraw*"] = { label: "wsraw* client", env: { BENCH_CLIENT: "wsraw", BENCH_WSRAW_DIST: COMPARE_DIST }, profile: "wsraw-client" };
}

/** The scenario's servers: ws+bufferutil and uws only when installed, wsraw* only when asked for. */
const serversFor = (names) => {
  const present = names.filter((n) => (n !== "ws+bufferutil" || HAS_BUFFERUTIL) && (n !== "uws" || UWS_VERSION !== undefined));
  return COMPARE_DIST ? ["wsraw", "wsraw*", ...present.slice(1)] : present;
};

/** The server `name`, with the scenario's `serverEnv` (the server's own env wins). */
function startServer(name, scenario) {
  const spec = SERVERS[name];
  return startChild(join(here, spec.script), {
    name,
    core: SERVER_CORE,
    pin: PIN,
    nodeArgs: ["--expose-gc", ...(args.profile === name ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [])],
    env: { ...scenario?.serverEnv, ...spec.env },
  });
}

/**
 * The load generator's native parts (see each file for why they are not in Node), compiled
 * into a temporary directory of this run (removed at exit; not a shared path, so runs
 * side by side do not rebuild each other's binaries). Each is undefined without a C
 * compiler, said so; the load generator then does that work itself in Node, and may be
 * what limits those scenarios.
 */
const NATIVE_DIR = mkdtempSync(join(tmpdir(), "wsraw-bench-bin-"));
process.once("exit", () => rmSync(NATIVE_DIR, { recursive: true, force: true }));

function compileNative(source, what) {
  const output = join(NATIVE_DIR, source.replace(/\.c$/, ""));
  const build = spawnSync("cc", ["-O2", "-std=gnu11", "-o", output, join(here, "load", source)], { encoding: "utf8" });
  if (build.status === 0) return output;
  console.error(`bench: could not compile bench/load/${source} (${build.error?.message ?? build.stderr.trim()}); ${what} run in Node`);
  return undefined;
}

/** The handshake scenario's lanes. */
const HANDSHAKE_BIN = compileNative("handshake.c", "handshake lanes");
/** The echo and broadcast workloads over plain TCP (the client scenarios' ceiling included). */
const TRAFFIC_BIN = compileNative("traffic.c", "echo and broadcast");

/** The client under test `name` (a key of CLIENTS), pinned where the load generator runs. */
function startClient(name) {
  const spec = CLIENTS[name];
  return startChild(join(here, "clients/echo.mjs"), {
    name: spec.label,
    core: LOAD_CORE,
    pin: PIN,
    nodeArgs: args.profile === spec.profile ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    env: spec.env,
  });
}

/**
 * A self-signed certificate for 127.0.0.1 (EC P-256), made with the openssl command line
 * into a new temporary directory for the TLS scenarios; removed at the end of the run. No
 * key is kept anywhere else. Undefined (and the scenario is skipped) without openssl.
 */
function makeCertificate() {
  const dir = mkdtempSync(join(tmpdir(), "wsraw-bench-tls-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  const made = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
    { encoding: "utf8" },
  );
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { error: made.error?.message ?? made.stderr.trim().split("\n").pop() };
  }
  return { dir, key, cert };
}

function startLoadGenerator() {
  return startChild(join(here, "load/client.mjs"), {
    name: "load generator",
    core: LOAD_CORE,
    pin: PIN,
    nodeArgs: args.profile === "load" ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    env: {
      ...(HANDSHAKE_BIN === undefined ? {} : { WSRAW_BENCH_HANDSHAKE_BIN: HANDSHAKE_BIN }),
      ...(TRAFFIC_BIN === undefined ? {} : { WSRAW_BENCH_TRAFFIC_BIN: TRAFFIC_BIN }),
    },
  });
}

// ---- Scenarios ----

const perSecond = (m) => m.count / m.seconds;
const megabytesPerSecond = (m) => m.bytes / m.seconds / 1e6;

/**
 * `targets`: per server measured beside wsraw (plain `ws`, `uws`, the `net` ceiling), the
 * least ratio wsraw ÷ that server (or, with `lowerIsBetter`, the most) that passes.
 */
const SCENARIOS = [
  {
    name: "echo-small",
    what: "64 B text echo, 100 conns × 32 in flight",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "uws", "net"]),
    workload: { workload: "echo", connections: 100, inFlight: 32, size: 64, binary: false },
    unit: "msg/s",
    value: perSecond,
    targets: { ws: 5, uws: 1 },
  },
  {
    name: "echo-rtt",
    // No target: one message per read and per write, so every Node server pays Node's
    // socket floor per message (bench/README.md); it shows what batching is worth elsewhere.
    what: "64 B text echo, 100 conns × 1 in flight (one message per read and per write)",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "uws", "net"]),
    workload: { workload: "echo", connections: 100, inFlight: 1, size: 64, binary: false },
    unit: "msg/s",
    value: perSecond,
  },
  {
    name: "echo-16k",
    what: "16 KiB binary echo, 50 conns × 4 in flight",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "uws", "net"]),
    workload: { workload: "echo", connections: 50, inFlight: 4, size: 16 * 1024, binary: true },
    unit: "MB/s",
    value: megabytesPerSecond,
    targets: { ws: 2.5, uws: 1 },
  },
  {
    name: "echo-1m",
    what: "1 MiB binary echo, 4 conns × 2 in flight",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "uws", "net"]),
    workload: { workload: "echo", connections: 4, inFlight: 2, size: 1024 * 1024, binary: true },
    unit: "MB/s",
    value: megabytesPerSecond,
    targets: { ws: 3 },
  },
  {
    name: "tls-echo-16k",
    what: "16 KiB binary echo over TLS (wss://; wsraw `tls`, ws behind node:https), 50 conns × 4 in flight",
    kind: "traffic",
    tls: true,
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "uws", "net"]),
    workload: { workload: "echo", connections: 50, inFlight: 4, size: 16 * 1024, binary: true },
    unit: "MB/s",
    value: megabytesPerSecond,
  },
  {
    name: "handshake",
    what: "connect + upgrade + close handshake, 32 at a time",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "uws", "net"]),
    workload: { workload: "handshake", concurrency: 32 },
    unit: "handshakes/s",
    value: perSecond,
    targets: { ws: 1.4, net: 0.95 },
  },
  {
    name: "broadcast",
    what: "64 B text to 1,000 conns on /broadcast, 16 broadcasts in flight",
    kind: "traffic",
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "uws", "net broadcast"]),
    workload: { workload: "broadcast", connections: 1000, window: 16, size: 64 },
    unit: "deliveries/s",
    value: perSecond,
    targets: { ws: 3, uws: 1 },
  },
  // The client side: wsraw's `connect` beside ws's `WebSocket`, each driving the same echo
  // server (frame-echo) from the load generator's core; the load generator itself drives it
  // too, as the ceiling.
  {
    name: "client-echo-small",
    what: "the clients: 64 B text echo, 100 conns × 32 in flight, against frame-echo",
    kind: "client",
    echoServer: "frame-echo",
    clients: serversFor(["wsraw", "ws", "ws+bufferutil", "load"]),
    workload: { workload: "echo", connections: 100, inFlight: 32, size: 64, binary: false },
    unit: "msg/s",
    value: perSecond,
    targets: { ws: 3 },
  },
  {
    name: "client-echo-1m",
    what: "the clients: 1 MiB binary echo, 4 conns × 2 in flight, against frame-echo",
    kind: "client",
    echoServer: "frame-echo",
    clients: serversFor(["wsraw", "ws", "ws+bufferutil", "load"]),
    workload: { workload: "echo", connections: 4, inFlight: 2, size: 1024 * 1024, binary: true },
    unit: "MB/s",
    value: megabytesPerSecond,
  },
  {
    name: "idle-memory",
    what: `server RSS per idle connection (${PLAN.idleConnections.toLocaleString("en-US")} conns, idle until V8 has shrunk its young generation, after gc)`,
    kind: "memory",
    servers: serversFor(["wsraw", "ws", "uws", "net"]),
    unit: "B/conn",
    targets: { ws: 0.8 },
    lowerIsBetter: true,
  },
  { name: "frame-codec", what: "frame codec micro-benchmark (bench/frame.ts)", kind: "external" },
  // permessage-deflate (RFC 7692): both servers with their defaults, the load generator
  // offering it as Chromium does and obeying the answer (bench/load/deflate.mjs).
  {
    name: "deflate-memory",
    what:
      `server RSS per connection, ${PLAN.deflateMemoryConnections.toLocaleString("en-US")} conns offering permessage-deflate ` +
      "as Chromium does, each idle after one compressed 4 KiB JSON message echoed (idle until V8 has shrunk its young generation, after gc)",
    kind: "memory",
    deflate: true,
    serverEnv: { BENCH_PERMESSAGE_DEFLATE: "1" },
    servers: serversFor(["wsraw", "ws", "wsraw (no deflate)"]),
    workload: { workload: "deflate-idle", size: 4096 },
    connections: PLAN.deflateMemoryConnections,
    unit: "B/conn",
    targets: { ws: 0.15 },
    lowerIsBetter: true,
  },
  {
    name: "deflate-echo-1k",
    what: "1 KiB JSON text echo, permessage-deflate both ways, 50 conns × 8 in flight",
    kind: "traffic",
    deflate: true,
    serverEnv: { BENCH_PERMESSAGE_DEFLATE: "1" },
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "net deflate"]),
    workload: { workload: "deflate-echo", connections: 50, inFlight: 8, size: 1024, sampleEvery: 10 },
    unit: "msg/s",
    value: perSecond,
    targets: { ws: 2 },
  },
  {
    name: "deflate-echo-16k",
    what: "16 KiB JSON text echo, permessage-deflate both ways, 50 conns × 4 in flight",
    kind: "traffic",
    deflate: true,
    serverEnv: { BENCH_PERMESSAGE_DEFLATE: "1" },
    servers: serversFor(["wsraw", "ws", "ws+bufferutil", "net deflate"]),
    workload: { workload: "deflate-echo", connections: 50, inFlight: 4, size: 16 * 1024, sampleEvery: 10 },
    unit: "msg/s",
    value: perSecond,
    targets: { ws: 2 },
  },
  {
    name: "deflate-broadcast",
    what:
      `1 KiB JSON text to ${PLAN.deflateBroadcastMembers.toLocaleString("en-US")} permessage-deflate conns on /broadcast, ` +
      "16 broadcasts in flight",
    kind: "traffic",
    deflate: true,
    serverEnv: { BENCH_PERMESSAGE_DEFLATE: "1" },
    servers: serversFor(["wsraw", "ws", "ws+bufferutil"]),
    workload: {
      workload: "deflate-broadcast",
      connections: PLAN.deflateBroadcastMembers,
      window: 16,
      size: 1024,
      sampleEvery: 100,
    },
    unit: "deliveries/s",
    value: perSecond,
    targets: { ws: 10 },
  },
];

// ---- Running ----

const log = (message) => process.stderr.write(`${message}\n`);

/**
 * Run-queue wait shares of the processes measured (the servers; the clients in the client
 * scenarios) in every measured run, for the noise line.
 */
const WAITS = [];

/** Per TLS scenario: the TLS versions and ciphers the load generator's connections agreed on. */
const TLS_AGREED = {};

async function waitFor(check, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function serverConnections(server) {
  return (await server.call("stats")).connections;
}

/** One traffic run: set up, measure server and load generator over `durationMs`, tear down. */
async function trafficRun(lg, server, scenario, durationMs) {
  const setup = await lg.call("setup", { ...scenario.workload, port: server.info.port, raw: SERVERS[server.name].raw === true });
  if (setup.tls !== undefined) (TLS_AGREED[scenario.name] ??= new Set()).add(setup.tls);
  try {
    const serverStart = server.call("cpu");
    const measured = lg.call("measure", { durationMs });
    const start = await serverStart;
    const m = await measured;
    const end = await server.call("cpu");
    return {
      value: scenario.value(m),
      serverCpu: cpuShare(start, end),
      serverWait: waitShare(start, end),
      loadCpu: m.cpuShare,
      loadWait: m.waitShare,
      errors: m.errors,
      deflate: scenario.deflate ? deflateFigures(setup, m, server) : undefined,
    };
  } finally {
    await lg.call("teardown");
    await waitFor(async () => (await serverConnections(server)) === 0, 10_000, `${server.name} to close all connections`);
  }
}

/**
 * What a deflate run saw besides its rate: the server's options and answer, how much the
 * replies shrank, and how many sampled replies were inflated and found byte-exact.
 */
function deflateFigures(setup, m, server) {
  return {
    options: server.info.deflate,
    extensions: setup.extensions ?? "(none: uncompressed)",
    wireRatio: m.bytes > 0 ? m.wire / m.bytes : NaN,
    compressedShare: m.count > 0 ? m.compressed / m.count : NaN,
    sentFrameBytes: setup.sentFrameBytes,
    verified: (setup.verified ?? 0) + (m.verified ?? 0),
    mismatched: (setup.mismatched ?? 0) + (m.mismatched ?? 0),
  };
}

async function runTraffic(scenario, lg) {
  const servers = await Promise.all(scenario.servers.map((name) => startServer(name, scenario)));
  const results = Object.fromEntries(scenario.servers.map((name) => [name, []]));
  try {
    for (const server of servers) {
      log(`  ${scenario.name}: warm-up ${server.name}`);
      await trafficRun(lg, server, scenario, PLAN.warmupMs);
    }
    for (let run = 0; run < PLAN.runs; run++) {
      // Rotate the order so no server is always measured right after the same one.
      const order = servers.map((_, i) => servers[(i + run) % servers.length]);
      for (const server of order) {
        const result = await trafficRun(lg, server, scenario, PLAN.runMs);
        results[server.name].push(result);
        WAITS.push(result.serverWait);
        log(
          `  ${scenario.name} run ${run + 1}/${PLAN.runs} ${server.name}: ${formatNumber(result.value)} ${scenario.unit}` +
            ` (server CPU ${percent(result.serverCpu)} wait ${percent(result.serverWait)},` +
            ` load CPU ${percent(result.loadCpu)} wait ${percent(result.loadWait)}` +
            `${result.deflate ? `, wire/message ${result.deflate.wireRatio.toFixed(3)}` : ""}` +
            `${result.deflate?.mismatched ? `, ${result.deflate.mismatched} MISMATCHED replies` : ""}` +
            `${result.errors ? `, ${result.errors} errors` : ""})`,
        );
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  return results;
}

/**
 * A client scenario: one echo server, each client under test (and the load generator, as
 * the ceiling) driving it in turn from the load generator's core; the same warm-up and
 * rotation as `runTraffic`. A run's "server" figures are the echo server's, its "load"
 * figures the client's.
 */
async function runClient(scenario, lg) {
  const server = await startServer(scenario.echoServer, scenario);
  const drivers = [];
  const results = Object.fromEntries(scenario.clients.map((name) => [name, []]));
  try {
    for (const name of scenario.clients) drivers.push({ name, child: name === "load" ? lg : await startClient(name) });
    for (const { name, child } of drivers) {
      log(`  ${scenario.name}: warm-up ${CLIENTS[name].label}`);
      await trafficRun(child, server, scenario, PLAN.warmupMs);
    }
    for (let run = 0; run < PLAN.runs; run++) {
      const order = drivers.map((_, i) => drivers[(i + run) % drivers.length]);
      for (const { name, child } of order) {
        const result = await trafficRun(child, server, scenario, PLAN.runMs);
        // A client whose echoes came back wrong (the first of each connection is compared
        // with what it sent) is broken, not fast: each such connection counts as an error.
        if (name !== "load") result.errors += (await child.call("check")).mismatched;
        results[name].push(result);
        if (name !== "load") WAITS.push(result.loadWait);
        log(
          `  ${scenario.name} run ${run + 1}/${PLAN.runs} ${CLIENTS[name].label}: ${formatNumber(result.value)} ${scenario.unit}` +
            ` (client CPU ${percent(result.loadCpu)} wait ${percent(result.loadWait)},` +
            ` ${server.name} CPU ${percent(result.serverCpu)} wait ${percent(result.serverWait)}` +
            `${result.errors ? `, ${result.errors} errors` : ""})`,
        );
      }
    }
  } finally {
    await Promise.all([server.stop(), ...drivers.filter((d) => d.child !== lg).map((d) => d.child.stop())]);
  }
  return results;
}

/**
 * A fresh server (so earlier runs leave no freed-but-kept memory), RSS before and after
 * `count` connections of the scenario's workload ("idle" unless it names another).
 */
async function memoryRun(lg, name, scenario, count) {
  const server = await startServer(name, scenario);
  const raw = SERVERS[name].raw === true;
  const workload = scenario.workload ?? { workload: "idle" };
  try {
    // Warm-up: the first connections initialise lazily loaded code and pools.
    await lg.call("setup", { ...workload, port: server.info.port, count: 100, raw });
    await lg.call("teardown", {});
    await waitFor(async () => (await serverConnections(server)) === 0, 10_000, "warm-up connections to close");
    // Both ends measured with V8's young generation at its initial size (harness.mjs, settle).
    const settled = () => server.call("settle", { maxMs: PLAN.settleMs }, PLAN.settleMs + 30_000);
    const before = await settled();
    const cpuStart = await server.call("cpu");
    const setup = await lg.call("setup", { ...workload, port: server.info.port, count, raw });
    await waitFor(async () => (await serverConnections(server)) === count, 20_000, `${count} connections`);
    const cpuEnd = await server.call("cpu");
    const burst = await server.call("mem");
    const after = await settled();
    return {
      value: (after.rss - before.rss) / count,
      afterBurst: (burst.rss - before.rss) / count,
      newSpaceAfterBurst: burst.newSpace,
      settledMs: after.settledMs,
      settled: before.settled && after.settled,
      heapPerConnection: (after.heapUsed - before.heapUsed) / count,
      heapCommittedPerConnection: (after.heapTotal - before.heapTotal) / count,
      serverCpu: cpuShare(cpuStart, cpuEnd),
      serverWait: waitShare(cpuStart, cpuEnd),
      loadCpu: NaN,
      loadWait: NaN,
      errors: 0,
      deflate: scenario.deflate
        ? {
            options: server.info.deflate,
            extensions: setup.extensions ?? "(none: uncompressed)",
            verified: setup.verified,
            mismatched: setup.mismatched,
          }
        : undefined,
    };
  } finally {
    await server.stop();
    await lg.call("teardown", { serverGone: true });
  }
}

/** How a memory run's wait for V8 to shrink its young generation went (harness.mjs, settle). */
function youngGenerationWait(waitedMs, shrunk) {
  const seconds = (waitedMs / 1000).toFixed(1);
  if (!shrunk) return `NOT shrunk after ${seconds} s idle`;
  return waitedMs === 0 ? "not grown" : `shrunk after ${seconds} s idle`;
}

async function runMemory(scenario, lg) {
  const results = Object.fromEntries(scenario.servers.map((name) => [name, []]));
  const count = scenario.connections ?? PLAN.idleConnections;
  for (let run = 0; run < PLAN.memoryRuns; run++) {
    for (const name of scenario.servers) {
      const result = await memoryRun(lg, name, scenario, count);
      results[name].push(result);
      log(
        `  ${scenario.name} run ${run + 1}/${PLAN.memoryRuns} ${name}: ${formatNumber(result.value)} B/conn RSS` +
          ` (${formatNumber(result.afterBurst)} right after the connections opened;` +
          ` young generation ${youngGenerationWait(result.settledMs, result.settled)}),` +
          ` ${formatNumber(result.heapPerConnection)} B/conn heap` +
          `${result.deflate ? `, answer "${result.deflate.extensions}", ${result.deflate.verified}/${count} echoes verified` : ""}` +
          `${result.deflate?.mismatched ? `, ${result.deflate.mismatched} MISMATCHED` : ""}`,
      );
    }
  }
  return results;
}

/**
 * The codec micro-benchmark is another file's job (bench/frame.ts): run its compiled form
 * as package.json's bench:frame script names it, pinned like a server, and keep its
 * PASS/FAIL lines for the table and its whole report for below it.
 */
async function runFrameCodec() {
  const script = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts?.["bench:frame"] ?? "";
  const named = /node\s+(\S+\.js)/.exec(script)?.[1];
  const candidates = [named, "dist-bench/bench/frame.js"].filter(Boolean).map((p) => join(root, p));
  const compiled = candidates.find((p) => existsSync(p));
  if (compiled === undefined) {
    return { skipped: `not built (${candidates.map((p) => p.slice(root.length + 1)).join(" / ")} missing): run npm run bench:frame` };
  }
  const source = join(root, "bench", "frame.ts");
  const stale = existsSync(source) && statSync(source).mtimeMs > statSync(compiled).mtimeMs;
  // Judged against plain ws, as every scenario is: without bufferutil, which may be installed
  // (uWebSockets.js's package depends on it, and npm hoists it where ws finds it).
  const env = { WS_NO_BUFFER_UTIL: "1", ...(args.quick ? { BENCH_RUNS: "3", BENCH_MS: "60", BENCH_WARMUP_MS: "40" } : {}) };
  const command = PIN ? ["taskset", "-c", String(SERVER_CORE), process.execPath, compiled] : [process.execPath, compiled];
  const output = await new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => (text += chunk));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`frame bench exited with ${code}`))));
  });
  const verdicts = [...output.matchAll(/^(PASS|FAIL)\s+(.+)$/gm)].map((m) => ({ pass: m[1] === "PASS", text: m[2] }));
  return { output, verdicts, compiled: compiled.slice(root.length + 1), stale };
}

// ---- Report ----

const COLUMNS = [
  { title: "scenario" },
  { title: "server" },
  { title: "median", align: "right" },
  { title: "unit" },
  { title: "spread", align: "right" },
  { title: "srv CPU", align: "right" },
  { title: "srv wait", align: "right" },
  { title: "load CPU", align: "right" },
  { title: "load wait", align: "right" },
  { title: "wsraw ÷ this", align: "right" },
  { title: "target" },
  { title: "result" },
];

function scenarioRows(scenario, results) {
  const rows = [];
  const medians = {};
  for (const [name, runs] of Object.entries(results)) medians[name] = median(runs.map((r) => r.value));
  const notes = [];
  const client = scenario.kind === "client";
  if (client) {
    notes.push(
      `${scenario.name}: one ${scenario.echoServer} server (core ${SERVER_CORE}) for all; "srv" columns are that server's,` +
        ` "load" columns the client process's (core ${LOAD_CORE}); the ratio is wsraw's client over each`,
    );
  }
  for (const [name, runs] of Object.entries(results)) {
    const values = runs.map((r) => r.value);
    const label = client ? CLIENTS[name].label : name;
    const loadCpu = median(runs.map((r) => r.loadCpu));
    const serverCpu = median(runs.map((r) => r.serverCpu));
    const r = medians.wsraw / medians[name];
    const target = scenario.targets?.[name];
    const isTarget = target !== undefined;
    const pass = meetsTarget(scenario, r, target);
    if (client) {
      if (serverCpu >= 0.9) notes.push(`${scenario.name}/${label}: echo server at ${percent(serverCpu)} CPU, may be the limit`);
      const clientBusy = loadCpu + median(runs.map((r) => r.loadWait));
      const serverBusy = serverCpu + median(runs.map((r) => r.serverWait));
      if (clientBusy < 0.25 && serverBusy < 0.25) {
        notes.push(
          `${scenario.name}/${label}: STALLED: the client used ${percent(loadCpu)} of its core and the echo server` +
            ` ${percent(serverCpu)} of its, and neither waited for a core: the client sat idle, waiting for something that did not come`,
        );
      }
    } else if (loadCpu >= 0.9) notes.push(`${scenario.name}/${label}: load generator at ${percent(loadCpu)} CPU, may be the limit`);
    const serverWait = median(runs.map((r) => r.serverWait));
    const loadWait = median(runs.map((r) => r.loadWait));
    const waited = Math.max(serverWait, loadWait);
    if (scenario.deflate && serverWait >= 0.2 && loadWait < 0.2 && median(runs.map((r) => r.serverCpu)) >= 0.9) {
      // "wait" is the main thread's: a server that compresses on Node's thread pool (ws)
      // keeps its own core busy with those threads while its main thread waits for it.
      notes.push(
        `${scenario.name}/${label}: its main thread waited for its core ${percent(serverWait)} of the time while the process` +
          ` used ${share(runs.map((r) => r.serverCpu))} of it: its own thread-pool (zlib) threads had the core, not only other processes`,
      );
    } else if (waited >= 0.2) notes.push(`${scenario.name}/${label}: other processes held the cores ${percent(waited)} of the time: noisy`);
    const errors = runs.reduce((sum, run) => sum + run.errors, 0);
    if (errors > 0) notes.push(`${scenario.name}/${label}: ${errors} connection errors`);
    rows.push([
      rows.length === 0 ? scenario.name : "",
      client ? label : name.startsWith("net") ? (scenario.kind === "memory" ? "net (floor)" : "net (ceiling)") : name,
      formatNumber(median(values)),
      scenario.unit,
      `${spreadPercent(values).toFixed(0)}%`,
      share(runs.map((r) => r.serverCpu)),
      share(runs.map((r) => r.serverWait)),
      share(runs.map((r) => r.loadCpu)),
      share(runs.map((r) => r.loadWait)),
      name === "wsraw" ? "" : ratio(r),
      isTarget ? `${scenario.lowerIsBetter ? "≤" : "≥"} ${target}×` : "",
      isTarget ? (pass ? "PASS" : "FAIL") : "",
    ]);
  }
  if (scenario.kind === "memory") {
    const heap = Object.entries(results).map(([name, runs]) => `${name} ${formatNumber(median(runs.map((r) => r.heapPerConnection)))}`);
    notes.push(`${scenario.name}: V8 heap per connection (B, median): ${heap.join(", ")}`);
    const committed = Object.entries(results).map(
      ([name, runs]) => `${name} ${formatNumber(median(runs.map((r) => r.heapCommittedPerConnection)))}`,
    );
    notes.push(`${scenario.name}: V8 heap committed (heapTotal) per connection (B, median): ${committed.join(", ")}`);
    const burst = Object.entries(results).map(
      ([name, runs]) =>
        `${name} ${formatNumber(median(runs.map((r) => r.afterBurst)))}` +
        ` (young generation ${formatNumber(median(runs.map((r) => r.newSpaceAfterBurst)) / 1048576)} MB,` +
        ` ${youngGenerationWait(median(runs.map((r) => r.settledMs)), runs.every((r) => r.settled))})`,
    );
    notes.push(`${scenario.name}: RSS per connection right after the connections opened, before V8 shrank its young generation (B, median): ${burst.join(", ")}`);
    const unsettled = Object.entries(results).filter(([, runs]) => runs.some((r) => !r.settled));
    for (const [name] of unsettled) {
      notes.push(`${scenario.name}/${name}: V8 did not shrink its young generation within ${PLAN.settleMs / 1000} s in some runs: those figures include it`);
    }
  }
  if (scenario.deflate) notes.push(...deflateNotes(scenario, results));
  const invalid = scenario.deflate ? deflateInvalid(results.wsraw) : undefined;
  if (invalid !== undefined) {
    const row = rows.find((r) => r[10] !== "");
    if (row !== undefined) row[11] = `FAIL (${invalid})`;
    notes.push(`${scenario.name}: FAIL whatever the ratio: wsraw ${invalid}`);
  }
  if (client) {
    // What each client gets done per second of its own CPU: the wall-clock ratio above is
    // squeezed when the echo server, not the client, is the limit (a busy machine).
    const perCpu = Object.fromEntries(
      Object.entries(results).map(([name, runs]) => [name, median(runs.map((r) => (r.loadCpu > 0 ? r.value / r.loadCpu : NaN)))]),
    );
    notes.push(
      `${scenario.name}: ${scenario.unit.replace("/s", "")} per client CPU-second (median of the runs): ` +
        Object.entries(perCpu).map(([name, v]) => `${CLIENTS[name].label} ${formatNumber(v)}`).join(", ") +
        (perCpu.ws !== undefined ? `; wsraw ÷ ws ${ratio(perCpu.wsraw / perCpu.ws)}` : ""),
    );
  }
  if (scenario.tls) {
    // TLS costs the server (and the load generator) most of their CPU: on a busy machine,
    // what each server gets done per second of its own CPU is the steadier comparison.
    const perCpu = Object.fromEntries(
      Object.entries(results).map(([name, runs]) => [name, median(runs.map((r) => (r.serverCpu > 0 ? r.value / r.serverCpu : NaN)))]),
    );
    notes.push(
      `${scenario.name}: ${scenario.unit.replace("/s", "")} per server CPU-second (median of the runs): ` +
        Object.entries(perCpu).map(([name, v]) => `${name} ${formatNumber(v)}`).join(", ") +
        (perCpu.ws !== undefined ? `; wsraw ÷ ws ${ratio(perCpu.wsraw / perCpu.ws)}` : ""),
    );
  }
  if (TLS_AGREED[scenario.name] !== undefined) {
    notes.push(`${scenario.name}: TLS agreed by the load generator's connections: ${[...TLS_AGREED[scenario.name]].join(", ")}`);
  }
  // One verdict per target whose server ran (uws is absent where it is not installed).
  const verdicts = Object.entries(scenario.targets ?? {})
    .filter(([name]) => results[name] !== undefined)
    .map(([name, target]) => ({
      name: `${scenario.name} vs ${name}`,
      pass: invalid === undefined && meetsTarget(scenario, medians.wsraw / medians[name], target),
    }));
  return { rows, notes, verdicts };
}

/** Why a deflate scenario's wsraw figures do not count, if they do not. */
function deflateInvalid(runs = []) {
  const d = runs.map((r) => r.deflate).filter(Boolean);
  if (d.some((x) => x.mismatched > 0)) return "sent replies that differ from the messages";
  if (d.some((x) => x.extensions.startsWith("(none"))) return "declined permessage-deflate";
  return undefined;
}

/**
 * For the deflate scenarios: each server's options and its answer to the Chromium offer,
 * the compression seen (payload bytes received / message bytes, median of the runs) and
 * the sampled replies checked byte-exact.
 */
function deflateNotes(scenario, results) {
  const notes = [];
  for (const [name, runs] of Object.entries(results)) {
    const d = runs.map((r) => r.deflate).filter(Boolean);
    if (d.length === 0) continue;
    const answers = [...new Set(d.map((x) => x.extensions))].join(" | ");
    notes.push(`${scenario.name}/${name}: ${d[0].options}; answer to "${CHROMIUM_OFFER}": ${answers}`);
    const verified = d.reduce((sum, x) => sum + (x.verified ?? 0), 0);
    const mismatched = d.reduce((sum, x) => sum + (x.mismatched ?? 0), 0);
    const checked = `${verified.toLocaleString("en-US")} sampled replies checked byte-exact (inflated when compressed)` +
      (mismatched > 0 ? `, ${mismatched.toLocaleString("en-US")} MISMATCHED` : "");
    if (scenario.kind === "memory") {
      notes.push(`${scenario.name}/${name}: ${checked}`);
      continue;
    }
    const wire = median(d.map((x) => x.wireRatio));
    const compressed = median(d.map((x) => x.compressedShare));
    const sent = d[0].sentFrameBytes;
    const size = scenario.workload.size;
    notes.push(
      `${scenario.name}/${name}: compression seen: wire/message ${Number.isFinite(wire) ? wire.toFixed(3) : "n/a"}` +
        ` (${percent(compressed)} of replies compressed); sent ${sent === undefined ? "?" : formatNumber(sent)} B frames` +
        ` per ${size.toLocaleString("en-US")} B message; ${checked}`,
    );
  }
  return notes;
}

/** Median of per-run shares as a percentage, "-" where not measured. */
function share(values) {
  const m = median(values);
  return Number.isNaN(m) ? "-" : percent(m);
}

function meetsTarget(scenario, r, target) {
  return scenario.lowerIsBetter ? r <= target : r >= target;
}

function header(started) {
  const [load1] = loadavg();
  return [
    `# wsraw vs ws and uWebSockets.js — ${args.quick ? "quick smoke run" : "full run"}`,
    `node ${process.version} (V8 ${process.versions.v8}), ws ${packageVersion("ws") ?? "?"}, uWebSockets.js ${UWS_VERSION ?? `not installed (npm install ${UWS_PACKAGE})`}, bufferutil ${HAS_BUFFERUTIL ? "installed" : "not installed"}`,
    `cpu: ${cpus()[0]?.model ?? "unknown"}, ${CORES} cores; taskset: ${PIN ? `yes (servers on core ${SERVER_CORE}, load generator on core ${LOAD_CORE})` : "no (unpinned)"}`,
    `load generator: ${loadGeneratorLine()}`,
    `allocator: ${allocatorLine()}`,
    `plan: ${PLAN.runs} runs × ${PLAN.runMs / 1000} s per server and scenario after a ${PLAN.warmupMs / 1000} s warm-up; idle memory ${PLAN.memoryRuns} run(s); loopback 127.0.0.1`,
    `noise: load average ${started.load1.toFixed(2)} at start, ${load1.toFixed(2)} at end on ${CORES} cores; ` +
      `servers (clients, in the client scenarios) waited for their core ${share(WAITS)} of the time` +
      ` (median; "wait" = runnable but another process had the core); ` +
      "spread = (max − min) / median of the runs",
  ].join("\n");
}

/**
 * glibc's malloc settings every process inherits from this one. They move the large-message
 * scenarios by up to 2× (bench/README.md, echo-1m), so a run says which it had.
 */
function allocatorLine() {
  const settings = Object.entries(process.env)
    .filter(([name]) => name === "GLIBC_TUNABLES" || (name.startsWith("MALLOC_") && name.endsWith("_")))
    .map(([name, value]) => `${name}=${value}`);
  return settings.length > 0 ? `${settings.join(" ")} (from the environment, in every process)` : "malloc defaults";
}

/** Which workloads the load generator runs in C, and which in Node. */
function loadGeneratorLine() {
  const inC = [
    ...(HANDSHAKE_BIN === undefined ? [] : ["handshake lanes (bench/load/handshake.c)"]),
    ...(TRAFFIC_BIN === undefined ? [] : ["echo and broadcast over plain TCP, client scenarios' ceiling included (bench/load/traffic.c)"]),
  ];
  const uncompiled = [...(HANDSHAKE_BIN === undefined ? ["handshake"] : []), ...(TRAFFIC_BIN === undefined ? ["echo", "broadcast"] : [])];
  return (
    (inC.length > 0 ? `in C: ${inC.join("; ")}; ` : "") +
    "in Node: TLS, permessage-deflate, idle" +
    (uncompiled.length > 0 ? `, and ${uncompiled.join(", ")} (their C did not compile: Node may be the limit there)` : "")
  );
}

/**
 * True when `name` loads in this Node (uWebSockets.js ships one binary per platform and
 * Node ABI: installed is not enough), asked of a child process so a crash stays there.
 */
function loads(name) {
  return spawnSync(process.execPath, ["-e", `require(${JSON.stringify(name)})`], { cwd: root, stdio: "ignore" }).status === 0;
}

/** The installed version of a dev dependency, undefined when it is not installed. */
function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

const blank = (n) => new Array(n).fill("");

/** The chart's bars for a scenario: wsraw and the servers it is judged against, medians. */
const CHARTED = ["wsraw", "ws", "uws", "net", "net deflate", "net broadcast"];
const chartGroups = [];

function chartGroup(scenario, results) {
  const medians = Object.fromEntries(Object.entries(results).map(([name, runs]) => [name, median(runs.map((r) => r.value))]));
  const bars = CHARTED.filter((name) => medians[name] !== undefined).map((name) => ({
    server: name,
    value: medians[name],
    label: `${formatNumber(medians[name])}${name === "wsraw" ? "" : ` (${ratio(medians.wsraw / medians[name])})`}`,
  }));
  // The name only: the scenario's description is the table's, and too long for a chart row.
  return { title: scenario.name, unit: scenario.unit, lowerIsBetter: scenario.lowerIsBetter, bars };
}

// ---- Main ----

async function main() {
  const known = SCENARIOS.map((s) => s.name);
  const unknown = (args.only ?? []).filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}; known: ${known.join(", ")}`);
  const selected = SCENARIOS.filter((s) => args.only === undefined || args.only.includes(s.name));
  const started = { at: performance.now(), load1: loadavg()[0] };
  const rows = [];
  const notes = [];
  const verdicts = [];
  let frame;
  const certificate = selected.some((s) => s.tls) ? makeCertificate() : undefined;
  // Also when the run dies of an uncaught error (a child that exits mid-call): no key stays behind.
  if (certificate?.dir !== undefined) process.once("exit", () => rmSync(certificate.dir, { recursive: true, force: true }));
  let lg = await startLoadGenerator();
  try {
    for (const scenario of selected) {
      log(`${scenario.name}: ${scenario.what}`);
      if (scenario.tls) {
        if (certificate.error !== undefined) {
          rows.push([scenario.name, ...blank(10), `skipped: no certificate (openssl: ${certificate.error})`]);
          continue;
        }
        scenario.serverEnv = { ...scenario.serverEnv, BENCH_TLS_KEY: certificate.key, BENCH_TLS_CERT: certificate.cert };
        scenario.workload = { ...scenario.workload, tls: { ca: certificate.cert } };
      }
      try {
        if (scenario.kind === "external") {
          frame = await runFrameCodec();
          if (frame.skipped) {
            rows.push([scenario.name, ...blank(10), `skipped: ${frame.skipped}`]);
            continue;
          }
          if (frame.stale) notes.push(`frame-codec: ${frame.compiled} is older than bench/frame.ts (rebuild it)`);
          frame.verdicts.forEach((v, i) => {
            // "decode 1 MiB masked frames (≥ 3× ws): case 5.10×, case 1.91×": the title as
            // target, the weakest case's ratio as the figure, the whole line as a note.
            const [title] = v.text.split(":");
            const ratios = [...v.text.slice(title.length).matchAll(/([\d.]+)×/g)].map((m) => Number(m[1]));
            const weakest = ratios.length > 0 ? `${Math.min(...ratios).toFixed(2)}× (weakest)` : "";
            rows.push([i === 0 ? scenario.name : "", "wsraw codec", ...blank(7), weakest, title, v.pass ? "PASS" : "FAIL"]);
            verdicts.push({ name: `frame-codec ${title}`, pass: v.pass });
            notes.push(`frame-codec: ${v.text}`);
          });
          continue;
        }
        const results =
          scenario.kind === "memory"
            ? await runMemory(scenario, lg)
            : scenario.kind === "client"
              ? await runClient(scenario, lg)
              : await runTraffic(scenario, lg);
        const table = scenarioRows(scenario, results);
        if (scenario.kind !== "client") chartGroups.push(chartGroup(scenario, results));
        rows.push(...table.rows);
        notes.push(...table.notes);
        verdicts.push(...table.verdicts);
      } catch (error) {
        log(`  ${scenario.name} failed: ${error.stack ?? error}`);
        rows.push([scenario.name, ...blank(10), `ERROR: ${error.message.split("\n")[0]}`]);
        verdicts.push({ name: scenario.name, pass: false });
        // The load generator may be wedged: start a fresh one for what follows.
        await lg.stop();
        lg = await startLoadGenerator();
      }
    }
  } finally {
    await lg.stop();
    if (certificate?.dir !== undefined) rmSync(certificate.dir, { recursive: true, force: true });
  }

  console.log(header(started));
  console.log("");
  console.log(renderTable(COLUMNS, rows));
  console.log("");
  const passed = verdicts.filter((v) => v.pass).length;
  console.log(`targets (wsraw ÷ ws, uws or the net ceiling): ${passed}/${verdicts.length} pass${verdicts.some((v) => !v.pass) ? `; failing: ${verdicts.filter((v) => !v.pass).map((v) => v.name).join(", ")}` : ""}`);
  console.log(
    "units: msg/s and deliveries/s count received messages; MB/s is echoed payload (10^6 B/s, one direction);" +
      " CPU is user+sys time / wall time of each process over the measured window (100% = one core)",
  );
  for (const note of notes) console.log(`note: ${note}`);
  console.log(`total ${((performance.now() - started.at) / 1000).toFixed(0)} s`);
  if (chartGroups.length > 0) {
    const file = args.chart ?? (args.quick || args.only ? join(tmpdir(), "wsraw-bench.svg") : join(root, "docs", "bench.svg"));
    const heading = `wsraw beside ws, uWebSockets.js and node:net: medians of ${PLAN.runs} runs (${args.quick ? "quick" : "full"} run)`;
    const footnote =
      `${cpus()[0]?.model ?? "cpu"}, ${CORES} cores, node ${process.version}; servers on core ${SERVER_CORE}, load on core ${LOAD_CORE}; ` +
      `label: median (wsraw ÷ that server); written by npm run bench`;
    writeFileSync(file, renderChart(chartGroups, { heading, footnote }));
    console.log(`chart: ${file}`);
  }
  if (frame?.output) {
    console.log(`\n--- frame codec detail (${frame.compiled}) ---`);
    console.log(frame.output.trimEnd());
  }
}

main().catch((error) => {
  console.error(error.stack ?? error);
  process.exitCode = 1;
});
