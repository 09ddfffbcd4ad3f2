/**
 * A mix of `sendFragmented()`, `send()` and `ping()` calls on one connection, for the
 * property tests of test/server/send-fragmented.test.ts and
 * test/deflate/fragmented-send.test.ts: whatever the mix, every message must arrive whole
 * and in call order. Not in index.ts: it brings fast-check.
 */
import fc from "fast-check";
import { expect } from "vitest";
import type { WebSocket } from "../../src/index.js";
import { within } from "./timeouts.js";

export type SendStep =
  | { kind: "fragmented"; pieces: string[]; overTime: boolean; awaited: boolean }
  | { kind: "send"; text: string }
  | { kind: "ping" };

/**
 * Steps whose texts come from `text`: fragmented messages of 1 to `maxPieces` pieces,
 * given at once or one per turn of the event loop, awaited or not; sends; and pings
 * when `pings`.
 */
export function sendSteps(text: fc.Arbitrary<string>, options: { maxPieces: number; maxSteps: number; pings: boolean }): fc.Arbitrary<SendStep[]> {
  const kinds: Array<fc.Arbitrary<SendStep>> = [
    fc.record({
      kind: fc.constant("fragmented" as const),
      pieces: fc.array(text, { minLength: 1, maxLength: options.maxPieces }),
      overTime: fc.boolean(),
      awaited: fc.boolean(),
    }),
    fc.record({ kind: fc.constant("send" as const), text }),
  ];
  if (options.pings) kinds.push(fc.record({ kind: fc.constant("ping" as const) }));
  return fc.array(fc.oneof(...kinds), { minLength: 1, maxLength: options.maxSteps });
}

/**
 * Runs `steps` on `sender`, reads every message at `receiver`, and checks that each
 * arrived whole, in call order, and that every send and ping settled; then closes the
 * receiver and checks the close was clean. Each message starts with its step's index.
 */
export async function checkSendMix(sender: WebSocket, receiver: WebSocket, steps: SendStep[]): Promise<void> {
  const expected: string[] = [];
  const pending: Array<Promise<unknown>> = [];
  for (const [i, step] of steps.entries()) {
    if (step.kind === "send") {
      sender.send(`${i}:${step.text}`);
      expected.push(`${i}:${step.text}`);
    } else if (step.kind === "ping") {
      pending.push(sender.ping());
    } else {
      const pieces = [`${i}:`, ...step.pieces];
      const source = step.overTime
        ? (async function* () {
            for (const piece of pieces) {
              await new Promise((resolve) => setImmediate(resolve));
              yield piece;
            }
          })()
        : pieces;
      const sending = sender.sendFragmented(source);
      expected.push(pieces.join(""));
      if (step.awaited) await sending;
      else pending.push(sending);
    }
  }
  const received: unknown[] = [];
  for (let n = 0; n < expected.length; n++) received.push(await within(receiver.wait(), 10_000, `message ${n + 1} of ${expected.length}`));
  await within(Promise.all(pending), 10_000, "every send and ping to settle");
  expect(received).toEqual(expected);
  receiver.close();
  expect(await within(receiver.closed, 10_000, "closed")).toMatchObject({ wasClean: true });
}
