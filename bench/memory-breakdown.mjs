/**
 * Where an idle connection's memory goes: V8 heap per connection by kind of object, for
 * wsraw (its echo route, written as the README does it) and a bare node:net server, from
 * two heap snapshots taken around opening N connections (the difference, divided by N).
 * The clients run in a child process, so their objects are not counted.
 *
 *   npm run build && node --expose-gc bench/memory-breakdown.mjs [wsraw|net] [N]
 *
 * It explains bench/run.mjs's idle-memory figure (RSS per connection), of which this is
 * the V8 heap part; the rest is Node's native socket state, the kernel's is not counted.
 */
import { fork } from "node:child_process";
import { createServer as createNetServer } from "node:net";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";

const [kind = "wsraw", countArg = "2000"] = process.argv.slice(2);
const COUNT = Number(countArg);
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

if (process.argv[2] === "--clients") {
  // The child: opens connections when told how many, answers once each has its 101.
  const port = Number(process.argv[3]);
  const { connect } = await import("node:net");
  const sockets = [];
  process.on("message", (n) => {
    let upgraded = 0;
    for (let i = 0; i < n; i++) {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.once("data", () => ++upgraded === n && process.send("open"));
      socket.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      sockets.push(socket);
    }
  });
} else {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const port = kind === "net" ? await startNet() : await startWsraw();
  const clients = fork(new URL(import.meta.url).pathname, ["--clients", String(port)]);
  const open = async (n) => {
    clients.send(n);
    await new Promise((resolve) => clients.once("message", resolve));
    await new Promise((resolve) => setTimeout(resolve, 500));
  };
  await open(100); // warm-up: lazily made code and pools
  const before = heapByKind();
  await open(COUNT);
  const after = heapByKind();
  clients.kill();
  const rows = [];
  let total = 0;
  for (const [key, [size, count]] of after) {
    const [sizeBefore, countBefore] = before.get(key) ?? [0, 0];
    const perConnection = (size - sizeBefore) / COUNT;
    total += perConnection;
    if (Math.abs(perConnection) >= 4) rows.push([key, perConnection, (count - countBefore) / COUNT]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  console.log(`${kind}: ${COUNT} idle connections, V8 heap per connection ${total.toFixed(0)} B (bytes, objects per connection, kind)`);
  for (const [key, bytes, objects] of rows) console.log(`${bytes.toFixed(0).padStart(7)}  ${objects.toFixed(2).padStart(5)}  ${key}`);
  process.exit(0);
}

async function startWsraw() {
  const { createServer, requireWebSocket } = await import("../dist/index.js");
  const server = createServer();
  server.route(
    "/echo",
    requireWebSocket(async ({ websocket: ws }) => {
      for await (const message of ws) if (!ws.send(message)) await ws.drained();
    }),
  );
  return (await server.listen(0, "127.0.0.1")).port;
}

async function startNet() {
  const server = createNetServer((socket) => {
    socket.once("data", () => socket.write("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
    socket.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server.address().port;
}

/** Self size and count of the heap's nodes by type and (for objects and closures) constructor name. */
function heapByKind() {
  globalThis.gc();
  globalThis.gc();
  const file = writeHeapSnapshot(join(tmpdir(), `wsraw-memory-${process.pid}.heapsnapshot`));
  const snapshot = JSON.parse(readFileSync(file, "utf8"));
  rmSync(file);
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const { nodes, strings } = snapshot;
  const byKind = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i]];
    const named = type === "object" || type === "closure" || type === "hidden";
    const key = named ? `${type} ${strings[nodes[i + 1]]}` : type;
    const entry = byKind.get(key) ?? [0, 0];
    entry[0] += nodes[i + 3];
    entry[1] += 1;
    byKind.set(key, entry);
  }
  return byKind;
}
