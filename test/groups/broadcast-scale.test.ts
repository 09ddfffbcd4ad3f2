/**
 * A broadcast to 1,000 members encodes the frame once and every member gets exactly one
 * copy. The encoder is wrapped (calling through) to count how often it runs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type RawClient, TestServer, connectMany } from "./helpers.js";
import { within } from "../support/index.js";

// group.ts imports the encoder through the re-exports of src/frame/index.ts; mocking the
// module that defines the functions replaces the binding those re-exports forward.
vi.mock("../../src/frame/encoder.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/frame/encoder.js")>();
  return {
    ...original,
    encodeTextFrame: vi.fn(original.encodeTextFrame),
    encodeFrame: vi.fn(original.encodeFrame),
  };
});

const encoder = await import("../../src/frame/encoder.js");
const encodeTextFrame = vi.mocked(encoder.encodeTextFrame);
const encodeFrame = vi.mocked(encoder.encodeFrame);

const MEMBERS = 1000;
const GROUP = "everyone";

describe("broadcast to 1,000 members", () => {
  let server: TestServer;
  let clients: RawClient[] = [];

  beforeEach(async () => {
    server = await new TestServer({
      onConnection: (ws) => server.server.group(GROUP).add(ws),
    }).start();
    clients = await connectMany(server.port, MEMBERS, { concurrency: 50 });
    // Members join in the handler, which runs in the tick that writes the 101.
    await server.connectionsAccepted(MEMBERS);
  }, 60_000);

  afterEach(async () => {
    for (const client of clients) client.destroy();
    clients = [];
    await server.close();
  });

  it("encodes each message once and delivers exactly one copy to every member", async () => {
    const group = server.server.group(GROUP);
    expect(group.size).toBe(MEMBERS);
    expect(server.server.groups.get(GROUP)).toBe(group);

    const binary = Buffer.alloc(4096, 7); // above the merge threshold: header + payload
    const rounds = [
      { data: "hello, everyone" as string | Uint8Array, counter: encodeTextFrame, received: "hello, everyone" },
      { data: binary as string | Uint8Array, counter: encodeFrame, received: `bin:${binary.length}` },
    ];
    for (const round of rounds) {
      encodeTextFrame.mockClear();
      encodeFrame.mockClear();
      const report = group.broadcast(round.data);
      expect(report).toEqual({ delivered: MEMBERS, skipped: 0, closed: 0 });
      // Exactly one encoder call for the whole broadcast, and it was the right one.
      expect(round.counter).toHaveBeenCalledTimes(1);
      expect(encodeTextFrame.mock.calls.length + encodeFrame.mock.calls.length).toBe(1);
    }

    // The second message follows the first on every socket (TCP keeps order), so once it
    // has arrived, a duplicate of the first would have arrived before it.
    await within(
      Promise.all(clients.map((client) => client.waitForMessages(rounds.length, 20_000))),
      30_000,
      "every member to receive both broadcasts",
    );
    const expected = rounds.map((round) => round.received);
    const wrong = clients.filter((client) => JSON.stringify(client.messages) !== JSON.stringify(expected));
    expect(wrong.map((client) => client.messages)).toEqual([]);
  }, 60_000);
});
