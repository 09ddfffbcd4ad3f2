/**
 * The wsraw client against servers no one here wrote: `ws`'s WebSocketServer (without and
 * with permessage-deflate), Python's `websockets` server (Debian's python3-websockets,
 * driven by fixtures/python-websockets-echo-server.py), and wsraw's own server (without
 * and with permessage-deflate), each over ws:// and over wss:// (a certificate made by
 * certs.ts; `ws` behind `node:https`, Python with an `ssl` context, wsraw with its `tls`
 * option).
 *
 * Every row covers text and binary at each payload length encoding (0, 125, 126, 65535,
 * 65536 bytes) and 1 MiB, multibyte UTF-8, 200 messages in order, and a clean close
 * started by the client. Every connection ends with a close started by the client, and
 * the server's own account of it is checked: these servers fail the connection (1002) on
 * an unmasked frame, bad RSV bits or a bad length, and (1007) on invalid UTF-8, so a close
 * they saw as 1000 with no error means they read a masked, valid stream from end to end.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { type Server as HttpServer, createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { type WebSocket, connect, createServer, requireWebSocket } from "../../src/index.js";
import { MiB, deferred, killChild, patternBytes, patternText, within } from "../support/index.js";
import { type KeyPair, type TestCerts, makeCerts, opensslSkip, removeCerts } from "./certs.js";

const PYTHON = "/usr/bin/python3";
const PYTHON_SERVER = fileURLToPath(new URL("./fixtures/python-websockets-echo-server.py", import.meta.url));

/** Why the Python rows cannot run here, or undefined when they can. Under CI=true they always run. */
const pythonSkip =
  process.env.CI === "true" || spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
    ? undefined
    : "install Debian's python3-websockets to run it";
if (pythonSkip !== undefined) console.warn(`skipping the Python websockets server rows: ${pythonSkip}`);

/** Payload lengths: 7-bit, the largest 7-bit, 16-bit (both ends), 64-bit, and 1 MiB. */
const SIZES = [0, 125, 126, 65535, 65536, MiB];

/** What a server saw of one connection, once it ended there. */
interface ServerView {
  /** The close code the server received (null if none). */
  code: number | null;
  reason: string | null;
  /** The server's error for the connection (a protocol error...), or null. */
  error: string | null;
  /** Messages the server read. */
  messages: number;
  /** The Sec-WebSocket-Extensions the server agreed to ("" for none). */
  extensions: string;
  /** Bytes the server read from the socket (ws only). */
  bytesRead?: number;
}

/** Each connection's view, by the `id` in its query string. */
class Views {
  private readonly views = new Map<string, ReturnType<typeof deferred<ServerView>>>();

  private entry(id: string) {
    let entry = this.views.get(id);
    if (entry === undefined) this.views.set(id, (entry = deferred<ServerView>()));
    return entry;
  }

  report(id: string, view: ServerView): void {
    this.entry(id).resolve(view);
  }

  get(id: string): Promise<ServerView> {
    return within(this.entry(id).promise, 10_000, `the server's account of connection ${id}`);
  }
}

interface EchoServer {
  /** The echo URL for a connection named `id`. */
  url(id: string): string;
  views: Views;
  stop(): Promise<void>;
}

interface Row {
  name: string;
  /** The name and the scheme, for the suite title. */
  label: string;
  secure: boolean;
  /** The client offers permessage-deflate and the server accepts it. */
  deflate: boolean;
  skip?: string;
  start(tls: KeyPair | undefined, deflate: boolean): Promise<EchoServer>;
}

function idOf(target: string): string {
  return new URL(target, "http://localhost").searchParams.get("id") ?? "";
}

function listenHttp(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

/** `ws`'s WebSocketServer on a node:http (or node:https) server, echoing. */
async function wsServer(tls: KeyPair | undefined, deflate: boolean): Promise<EchoServer> {
  const http = tls === undefined ? createHttpServer() : createHttpsServer({ key: tls.key, cert: tls.cert });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: deflate, maxPayload: 2 * MiB });
  const views = new Views();
  wss.on("connection", (ws, req) => {
    const id = idOf(req.url ?? "");
    let messages = 0;
    let error: string | null = null;
    ws.on("message", (data, isBinary) => {
      messages++;
      ws.send(data as Buffer, { binary: isBinary });
    });
    ws.on("error", (e) => (error = e.message));
    ws.on("close", (code, reason) =>
      views.report(id, {
        code,
        reason: reason.toString(),
        error,
        messages,
        extensions: ws.extensions,
        bytesRead: req.socket.bytesRead,
      }),
    );
  });
  const port = await listenHttp(http);
  return {
    url: (id) => `${tls ? "wss" : "ws"}://localhost:${port}/echo?id=${id}`,
    views,
    async stop() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** wsraw's own server, echoing. */
async function wsrawServer(tls: KeyPair | undefined, deflate: boolean): Promise<EchoServer> {
  const views = new Views();
  const server = createServer({
    tls: tls && { key: tls.key, cert: tls.cert },
    perMessageDeflate: deflate,
    maxPayload: 2 * MiB,
    closeTimeoutMs: 2000,
  });
  server.route(
    "/echo",
    requireWebSocket(async ({ websocket: ws, query }) => {
      let messages = 0;
      for await (const message of ws) {
        messages++;
        ws.send(message);
      }
      const closed = await ws.closed;
      views.report(query.get("id") ?? "", {
        code: closed.code,
        reason: closed.reason,
        error: closed.wasClean ? null : `not a clean close (${closed.code} ${closed.reason})`,
        messages,
        extensions: ws.extensions,
      });
    }),
  );
  const { port } = await server.listen(0, "127.0.0.1");
  return {
    url: (id) => `${tls ? "wss" : "ws"}://localhost:${port}/echo?id=${id}`,
    views,
    stop: () => server.close(),
  };
}

/** Python's websockets.serve in a child process (fixtures/python-websockets-echo-server.py). */
async function pythonServer(tls: KeyPair | undefined): Promise<EchoServer> {
  const child: ChildProcess = spawn(PYTHON, [PYTHON_SERVER, ...(tls ? [tls.certFile, tls.keyFile] : [])], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const views = new Views();
  const port = deferred<number>();
  let output = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
    let newline;
    while ((newline = output.indexOf("\n")) !== -1) {
      const line = output.slice(0, newline);
      output = output.slice(newline + 1);
      const record = JSON.parse(line);
      if (typeof record.port === "number") {
        port.resolve(record.port);
        continue;
      }
      views.report(idOf(record.path), {
        code: record.close_code,
        reason: record.close_reason,
        error: record.error,
        messages: record.messages,
        extensions: record.extensions ?? "",
      });
    }
  });
  const stop = async (): Promise<void> => {
    child.stdin!.end();
    await within(exited, 5_000, "the Python server to exit").catch(() => {
      killChild(child);
      return within(exited, 10_000, "the Python server to exit after SIGKILL");
    });
  };
  const failed = exited.then(() => {
    throw new Error(`the Python server exited before listening: ${stderr}`);
  });
  try {
    const listening = await within(Promise.race([port.promise, failed]), 10_000, "the Python server to print its port");
    return { url: (id) => `${tls ? "wss" : "ws"}://localhost:${listening}/echo?id=${id}`, views, stop };
  } catch (error) {
    killChild(child);
    throw error;
  }
}

const SERVERS: Omit<Row, "secure" | "label">[] = [
  { name: "ws's WebSocketServer", deflate: false, start: wsServer },
  { name: "ws's WebSocketServer with perMessageDeflate", deflate: true, start: wsServer },
  { name: "Python websockets.serve", deflate: false, skip: pythonSkip, start: pythonServer },
  { name: "Python websockets.serve, permessage-deflate offered", deflate: true, skip: pythonSkip, start: pythonServer },
  { name: "wsraw's server", deflate: false, start: wsrawServer },
  { name: "wsraw's server with perMessageDeflate", deflate: true, start: wsrawServer },
];

const ROWS: Row[] = SERVERS.flatMap((server) => [
  { ...server, label: `${server.name} over ws://`, secure: false },
  { ...server, label: `${server.name} over wss://`, secure: true, skip: server.skip ?? opensslSkip },
]);

let certs: TestCerts | undefined;

beforeAll(async () => {
  if (opensslSkip === undefined) certs = await makeCerts();
});

afterAll(async () => {
  await removeCerts(certs);
});

let nextId = 0;

/** The text of `size` bytes sent at each size: printable ASCII. */
const textOf = (size: number): string => patternText(size);

/** Echo of one message: the wait is bounded. */
async function echoOf(ws: WebSocket, what: string): Promise<string | Buffer> {
  const message = await within(ws.wait(), 10_000, `the echo of ${what}`);
  if (message === null) throw new Error(`the connection closed before the echo of ${what}: ${JSON.stringify(await ws.closed)}`);
  return message;
}

function expectText(echo: string | Buffer, sent: string, what: string): void {
  expect(typeof echo, what).toBe("string");
  // Compared without printing a megabyte on failure.
  expect((echo as string).length, `${what}: length`).toBe(sent.length);
  expect(echo === sent, `${what}: same text`).toBe(true);
}

function expectBinary(echo: string | Buffer, sent: Buffer, what: string): void {
  expect(Buffer.isBuffer(echo), what).toBe(true);
  expect((echo as Buffer).length, `${what}: length`).toBe(sent.length);
  expect(sent.equals(echo as Buffer), `${what}: same bytes`).toBe(true);
}

describe.each(ROWS)("the wsraw client against $label", (row) => {
  const scheme = row.secure ? "wss" : "ws";
  let server: EchoServer | undefined;

  beforeAll(async () => {
    if (row.skip !== undefined) return;
    server = await row.start(row.secure ? certs!.localhost : undefined, row.deflate);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /**
   * Connects (over `scheme`, trusting the test CA), runs `body`, closes with 1000 `reason`
   * from the client, and checks both sides' account of the close. Returns the server's.
   */
  async function session(label: string, body: (ws: WebSocket) => Promise<number>, reason = "done"): Promise<ServerView> {
    const id = `${label}-${nextId++}`;
    const ws = await connect(server!.url(id), {
      ca: row.secure ? certs!.ca.cert : undefined,
      perMessageDeflate: row.deflate,
      maxPayload: 2 * MiB,
      handshakeTimeoutMs: 5_000,
      closeTimeoutMs: 5_000,
    });
    let sent: number;
    try {
      if (row.deflate) expect(ws.extensions).toMatch(/^permessage-deflate(;|$)/);
      else expect(ws.extensions).toBe("");
      sent = await body(ws);
    } catch (error) {
      ws.terminate();
      throw error;
    }
    ws.close(1000, reason);
    expect(await within(ws.closed, 10_000, "the client's close handshake")).toMatchObject({ code: 1000, wasClean: true });
    expect(await ws.wait()).toBeNull();
    const view = await server!.views.get(id);
    expect(view, "the server's account of the connection").toMatchObject({ code: 1000, reason, error: null, messages: sent });
    if (row.deflate) expect(view.extensions).toMatch(/^permessage-deflate(;|$)/);
    else expect(view.extensions).toBe("");
    return view;
  }

  it.skipIf(row.skip !== undefined)(
    `text and binary of ${SIZES.join(", ")} bytes over ${scheme}://${row.skip ? ` (skipped: ${row.skip})` : ""}`,
    async () => {
      let rawBytes = 0;
      const view = await session("sizes", async (ws) => {
        for (const size of SIZES) {
          const text = textOf(size);
          ws.send(text);
          expectText(await echoOf(ws, `${size} bytes of text`), text, `${size} bytes of text`);
          const bytes = patternBytes(size, size);
          ws.send(bytes);
          expectBinary(await echoOf(ws, `${size} bytes of binary`), bytes, `${size} bytes of binary`);
          rawBytes += 2 * size;
        }
        return 2 * SIZES.length;
      });
      if (view.bytesRead !== undefined) {
        // ws counts what came over its socket: compressed, far less than the payloads
        // (both patterns repeat); otherwise at least all of them.
        if (row.deflate) expect(view.bytesRead).toBeLessThan(rawBytes / 10);
        else expect(view.bytesRead).toBeGreaterThan(rawBytes);
      }
    },
  );

  it.skipIf(row.skip !== undefined)(`multibyte UTF-8 over ${scheme}://`, async () => {
    const texts = [
      "é",
      "日本語",
      "🎉",
      "é 🎉 日本 ñ Ω ∑ 𝄞 — “quoted”",
      // 126 bytes of 2-byte characters, 65,540 bytes of 4-byte ones (16-bit/64-bit lengths).
      "é".repeat(63),
      "🎉".repeat(16385),
      // 1,000,000 bytes mixing 1-, 2-, 3- and 4-byte characters.
      "aé日🎉".repeat(100_000),
    ];
    await session("utf8", async (ws) => {
      for (const [i, text] of texts.entries()) {
        ws.send(text);
        const echo = await echoOf(ws, `UTF-8 text #${i}`);
        expectText(echo, text, `UTF-8 text #${i} (${Buffer.byteLength(text)} bytes)`);
      }
      return texts.length;
    });
  });

  it.skipIf(row.skip !== undefined)(`200 messages in order over ${scheme}://`, async () => {
    const COUNT = 200;
    const sent: Array<string | Buffer> = [];
    for (let i = 0; i < COUNT; i++) {
      // Sizes across the 7-bit/16-bit boundary; text and binary interleaved.
      const size = (i * 37) % 300;
      sent.push(i % 2 === 0 ? `#${i} ${textOf(size)}` : Buffer.concat([Buffer.from([i]), patternBytes(size, i)]));
    }
    await session("order", async (ws) => {
      for (const message of sent) ws.send(message);
      const received: Array<string | Buffer> = [];
      // Half through wait(), half through for await: both take from the same queue.
      while (received.length < COUNT / 2) received.push(await echoOf(ws, `message #${received.length}`));
      await within(
        (async () => {
          for await (const message of ws) {
            received.push(message);
            if (received.length === COUNT) break;
          }
        })(),
        10_000,
        "the last 100 echoes",
      );
      expect(received.length).toBe(COUNT);
      for (let i = 0; i < COUNT; i++) {
        if (typeof sent[i] === "string") expectText(received[i], sent[i] as string, `message #${i}`);
        else expectBinary(received[i], sent[i] as Buffer, `message #${i}`);
      }
      return COUNT;
    });
  });

  it.skipIf(row.skip !== undefined)(`a clean close started by the client over ${scheme}://`, async () => {
    let socket: WebSocket | undefined;
    await session(
      "close",
      async (ws) => {
        socket = ws;
        ws.send("before the close");
        expectText(await echoOf(ws, "the last message"), "before the close", "the last message");
        expect(ws.readyState).toBe(1);
        return 1;
      },
      "bye",
    );
    expect(await socket!.closed).toMatchObject({ code: 1000, wasClean: true });
    expect(socket!.readyState).toBe(3);
    expect(socket!.bufferedAmount).toBe(0);
  });
});
