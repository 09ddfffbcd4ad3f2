/**
 * `drained()` after a send over the high-water mark: it must resolve once the bytes are
 * the kernel's, even when the socket took them all at once and never emitted 'drain'.
 */
import { describe, expect, it } from "vitest";
import { createServer, requireWebSocket } from "../../src/index.js";
import { usePairs } from "../support/index.js";

const pairs = usePairs();

async function echoServer(options: Parameters<typeof createServer>[0] = {}): Promise<number> {
  const server = pairs.serve(createServer(options));
  server.route(
    "/echo",
    requireWebSocket(async ({ websocket }) => {
      for await (const message of websocket) if (!websocket.send(message)) await websocket.drained();
    }),
  );
  return (await server.listen(0)).port;
}

describe("drained() after a send over the high-water mark", () => {
  it.each([
    ["plain", {}],
    ["compressed on the thread pool", { perMessageDeflate: { syncLimit: 0 } }],
  ])("%s: 1 MiB messages sent with if (!send) await drained() all arrive, on both ends", async (_, options) => {
    const port = await echoServer(options);
    const client = await pairs.open(`ws://127.0.0.1:${port}/echo`);
    const count = 20;
    let received = 0;
    const reading = (async () => {
      for await (const message of client) {
        expect((message as Buffer).length).toBe(1 << 20);
        if (++received === count) break;
      }
    })();
    let refused = 0;
    for (let i = 0; i < count; i++) {
      if (!client.send(Buffer.alloc(1 << 20, i))) {
        refused++;
        await client.drained();
      }
    }
    // Each 1 MiB message is at the default 1 MiB high-water mark: send() said false.
    expect(refused).toBe(count);
    await reading;
    expect(received).toBe(count);
  });
});
