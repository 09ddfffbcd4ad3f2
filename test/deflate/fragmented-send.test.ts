/**
 * `ws.sendFragmented()` with permessage-deflate (RFC 7692 §6.1): a message compressed piece
 * by piece as the pieces come, each frame flushed so that it can be inflated on arrival.
 * Read off the wire through a `WireTap` and decoded by independent inflaters (`ws`'s
 * client and codec, Node's zlib), with and without context takeover; the messages sent
 * meanwhile must still inflate, which they do only if they went through the window after
 * the fragmented one. Python's `websockets` and Chromium (test/deflate/browser.test.ts)
 * receive it too. And a property: any mix of compressed fragmented messages and
 * sends arrives whole, in call order, at wsraw's own client.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { inflateRawSync, constants as zlibConstants } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import WsClient from "ws";
import { ConnectionClosedError, type PerMessageDeflateOptions, connect } from "../../src/index.js";
import { KiB, Tap, WsPeer, runProgram, sha256, useResources, within } from "../support/index.js";
import { checkSendMix, sendSteps } from "../support/send-mix.js";
import { WireTap, compressibleText, deflateParams, inflateWithWs, randomText } from "./fixtures/wire.js";

const resources = useResources();
const PYTHON = "/usr/bin/python3";
const PYTHON_RECEIVER = fileURLToPath(new URL("./fixtures/python-websockets-receive.py", import.meta.url));
/** Why the Python client cannot run here, or undefined when it can. Under CI=true it always runs. */
const pythonSkip =
  process.env.CI === "true" || spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
    ? undefined
    : "install Debian's python3-websockets to run it";

const TAKEOVER = { serverNoContextTakeover: false, clientNoContextTakeover: false } satisfies PerMessageDeflateOptions;

/** A wsraw server whose route hands its connections to the test, behind a wire tap. */
async function tappedServer(perMessageDeflate: true | PerMessageDeflateOptions, syncLimit?: number) {
  const tap = new Tap();
  const options = syncLimit === undefined || perMessageDeflate === true ? perMessageDeflate : { ...perMessageDeflate, syncLimit };
  const { port } = await resources.server({ "/tap": tap.route() }, { perMessageDeflate: options });
  const wire = await WireTap.start(port);
  resources.defer(() => wire.close());
  return { tap, wire, url: wire.url("/tap") };
}

/** A `ws` client offering permessage-deflate as it does by default. */
async function wsClient(url: string): Promise<{ peer: WsPeer; header: string }> {
  const ws = new WsClient(url, { perMessageDeflate: true });
  resources.defer(() => ws.terminate());
  let header = "";
  ws.once("upgrade", (response) => (header = String(response.headers["sec-websocket-extensions"] ?? "")));
  const peer = new WsPeer(ws);
  await within(new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject))), 10_000, "the ws client to open");
  return { peer, header };
}

/** Pieces that compress, each different, `count` of `size` bytes. */
function textPieces(count: number, size: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i}:${compressibleText(size)}`);
}

/** Waits until the tap has seen `count` data messages from the server. */
async function serverMessages(wire: WireTap, count: number) {
  await within(
    (async () => {
      while (wire.last.fromServer.messages.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    10_000,
    `${count} messages on the wire`,
  );
  return wire.last.fromServer;
}

describe("sendFragmented() with permessage-deflate", () => {
  it("no context takeover: RSV1 on the first frame, every frame inflates as it arrives, the last is one byte (0x00)", async () => {
    const { tap, wire, url } = await tappedServer(true);
    const { peer, header } = await wsClient(url);
    const ws = await tap.next();
    const pieces = textPieces(4, 8 * KiB);
    await ws.sendFragmented(pieces);
    expect(await peer.next(10_000)).toBe(pieces.join(""));

    const { frames, messages } = await serverMessages(wire, 1);
    expect(frames.map((f) => [f.fin, f.rsv1, f.opcode])).toEqual([
      [false, true, 1],
      [false, false, 0],
      [false, false, 0],
      [false, false, 0],
      [true, false, 0],
    ]);
    expect(frames[4]!.payload).toEqual(Buffer.from([0x00]));
    expect(messages[0]!.wireLength, "compressed").toBeLessThan(pieces.join("").length / 4);
    // Each frame ends with Z_SYNC_FLUSH's empty block: what has arrived inflates to the
    // pieces sent so far, without waiting for the rest.
    for (let k = 1; k <= 4; k++) {
      const prefix = Buffer.concat(frames.slice(0, k).map((f) => f.payload));
      expect(prefix.subarray(-4), `frame ${k} ends with 00 00 ff ff`).toEqual(Buffer.from([0, 0, 0xff, 0xff]));
      const inflated = inflateRawSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      expect(inflated.toString(), `frames 1..${k}`).toBe(pieces.slice(0, k).join(""));
    }
    // ws's codec on a fresh inflater: the message needs no history.
    const [decoded] = await inflateWithWs(header, messages, true);
    expect(decoded!.alone!.toString()).toBe(pieces.join(""));
  });

  it("context takeover: messages sent during it are compressed after it into the same window, and all inflate in order", async () => {
    const { tap, wire, url } = await tappedServer(TAKEOVER);
    const { peer, header } = await wsClient(url);
    expect(deflateParams(header)).toMatchObject({ serverNoContextTakeover: false });
    const ws = await tap.next();
    // Random text compresses little on its own, to a few bytes where the window holds it.
    const repeated = randomText(8 * KiB);
    let give!: (piece: string) => void;
    let end!: () => void;
    const source = (async function* () {
      for (;;) {
        const piece = await new Promise<string | undefined>((resolve) => ((give = resolve), (end = () => resolve(undefined))));
        if (piece === undefined) return;
        yield piece;
      }
    })();
    ws.send(repeated); // before: the fragmented message's pieces may refer back to it
    const sending = ws.sendFragmented(source);
    await new Promise((resolve) => setImmediate(resolve));
    ws.send(`after 1 ${repeated}`); // compressed (2 KiB > threshold), but only after the fragmented one
    give(repeated);
    await new Promise((resolve) => setTimeout(resolve, 20));
    give(`piece 2 ${repeated}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    ws.send(`after 2 ${repeated}`);
    end();
    await within(sending, 10_000, "the fragmented message");
    const expected = [repeated, `${repeated}piece 2 ${repeated}`, `after 1 ${repeated}`, `after 2 ${repeated}`];
    for (const message of expected) expect(await peer.next(10_000)).toBe(message);

    const { messages } = await serverMessages(wire, 4);
    expect(messages.map((m) => m.compressed)).toEqual([true, true, true, true]);
    expect(messages[0]!.wireLength, "alone").toBeGreaterThan(4 * KiB);
    // With the window carried over, a repeat costs a few bytes per 258-byte match (level 1).
    expect(messages.slice(1).map((m) => m.wireLength < 512)).toEqual([true, true, true]);
    const decoded = await inflateWithWs(header, messages);
    expect(decoded.map(({ bytes }) => sha256(bytes))).toEqual(expected.map(sha256));
  });

  it("pieces above syncLimit are compressed on the thread pool, in order, binary too", async () => {
    const { tap, url } = await tappedServer(TAKEOVER, 1024);
    const { peer } = await wsClient(url);
    const ws = await tap.next();
    const pieces = [0, 1, 2, 3].map((i) => Buffer.from(`${i}${compressibleText(64 * KiB)}`));
    const sending = ws.sendFragmented(pieces);
    ws.send(Buffer.from(compressibleText(4 * KiB)));
    await within(sending, 10_000, "the fragmented message");
    expect(sha256((await peer.next(10_000)) as Buffer)).toBe(sha256(Buffer.concat(pieces)));
    expect(sha256((await peer.next(10_000)) as Buffer)).toBe(sha256(compressibleText(4 * KiB)));
  });

  it("the peer goes while a piece compresses on the thread pool: it rejects with ConnectionClosedError (not the zlib error of the engine freed under it)", async () => {
    const { tap, url } = await tappedServer(TAKEOVER, 1024);
    const { peer } = await wsClient(url);
    const ws = await tap.next();
    const pieces = (async function* () {
      yield Buffer.from(compressibleText(256 * KiB));
      peer.ws.terminate();
      // Tens of milliseconds of zlib: the reset arrives meanwhile.
      yield Buffer.from(compressibleText(16 * 1024 * KiB));
      yield Buffer.from("never sent");
    })();
    const sending = ws.sendFragmented(pieces);
    ws.send(compressibleText(4 * KiB)); // waits for the window, behind the fragmented message
    await expect(within(sending, 10_000, "sendFragmented to settle")).rejects.toThrow(ConnectionClosedError);
    expect((await within(ws.closed, 10_000, "closed")).code).toBe(1006);
  });

  it("{ compress: false }: plain frames, RSV1 clear; any other option value is a TypeError", async () => {
    const { tap, wire, url } = await tappedServer(true);
    const { peer } = await wsClient(url);
    const ws = await tap.next();
    const pieces = textPieces(2, 4 * KiB);
    await ws.sendFragmented(pieces, { compress: false });
    expect(await peer.next(10_000)).toBe(pieces.join(""));
    const { frames } = await serverMessages(wire, 1);
    expect(frames.map((f) => f.rsv1)).toEqual([false, false, false]);
    expect(frames.slice(0, 2).map((f) => f.payload.toString())).toEqual(pieces);
    await expect(ws.sendFragmented(["a"], { compress: "yes" } as never)).rejects.toThrow(/compress\?: boolean/);
    await expect(ws.sendFragmented(["a"], null as never)).rejects.toThrow(TypeError);
  });

  it("from the client: masked, compressed fragments that the ws server inflates", async () => {
    const { WebSocketServer } = await import("ws");
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: true });
    resources.defer(() => {
      for (const client of wss.clients) client.terminate();
      return new Promise((resolve) => wss.close(resolve));
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    const received = new Promise<{ data: Buffer; compressed: boolean }>((resolve) =>
      wss.once("connection", (socket) => {
        // ws tells nothing of RSV1 but its extension's use; the size read off the socket does.
        let bytes = 0;
        (socket as unknown as { _socket: { on(e: string, f: (c: Buffer) => void): void } })._socket.on("data", (c) => (bytes += c.length));
        socket.once("message", (data: Buffer) => resolve({ data, compressed: bytes < data.length / 4 }));
      }),
    );
    const { port } = wss.address() as { port: number };
    const ws = await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
    resources.defer(() => ws.terminate());
    const pieces = textPieces(3, 16 * KiB);
    await ws.sendFragmented(pieces);
    const { data, compressed } = await within(received, 10_000, "the ws server to receive it");
    expect(data.toString()).toBe(pieces.join(""));
    expect(compressed).toBe(true);
  });

  it.skipIf(pythonSkip !== undefined).each([
    { name: "no context takeover", options: true as const, takeover: false },
    { name: "context takeover", options: TAKEOVER, takeover: true },
  ])(`Python's websockets inflates it, $name${pythonSkip ? ` (skipped: ${pythonSkip})` : ""}`, async ({ options, takeover }) => {
    const pieces = [...textPieces(3, 20 * KiB), "日本語 🎉".repeat(2000)];
    const after = compressibleText(8 * KiB);
    const tap = new Tap(async ({ websocket: ws }) => {
      const sending = ws.sendFragmented(
        (async function* () {
          for (const piece of pieces) {
            await new Promise((resolve) => setTimeout(resolve, 2));
            yield piece;
          }
        })(),
      );
      ws.send(after);
      await sending;
      await ws.closed;
    });
    const { port } = await resources.server({ "/tap": tap.route() }, { perMessageDeflate: options });
    const wire = await WireTap.start(port);
    resources.defer(() => wire.close());
    const { code, stdout, stderr } = await runProgram(PYTHON, [PYTHON_RECEIVER, wire.url("/tap"), "2"], 30_000);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(result.error, stderr).toBeNull();
    expect(deflateParams(result.extensions_header)).toMatchObject({ serverNoContextTakeover: !takeover });
    const text = (s: string) => ({ type: "text", length: Buffer.byteLength(s), sha256: sha256(s) });
    expect(result.messages).toEqual([text(pieces.join("")), text(after)]);
    // The server answers a close with the code alone.
    expect(result.close).toEqual({ code: 1000, reason: "" });
    expect(wire.last.fromServer.messages.map((m) => [m.compressed, m.frames])).toEqual([
      [true, pieces.length + 1],
      [true, 1],
    ]);
  });

  it("property: compressed fragmented messages mixed with sends arrive whole and in call order, with and without context takeover", async () => {
    const text = fc.oneof(fc.string({ maxLength: 3000 }), fc.constantFrom(compressibleText(5000), ""));
    for (const options of [true, TAKEOVER] as const) {
      const tap = new Tap();
      const { url } = await resources.server({ "/tap": tap.route() }, { perMessageDeflate: { ...(options === true ? {} : options), threshold: 0 } });
      await fc.assert(
        fc.asyncProperty(sendSteps(text, { maxPieces: 4, maxSteps: 6, pings: false }), async (steps) => {
          const client = await connect(url("/tap"), { perMessageDeflate: true });
          await checkSendMix(await tap.next(), client, steps);
        }),
        { numRuns: 25 },
      );
    }
  });
});
