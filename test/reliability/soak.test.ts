/**
 * A short soak for CI: many connect / echo / close cycles, 50 at a time. Zero failures;
 * afterwards no connection, socket or timer is left, and the heap is back near where it
 * started.
 *
 * Each cycle is a lean raw client (one socket, one timer, one state machine) that still
 * checks every byte: the 101 and its Sec-WebSocket-Accept, the echo, the close frame, and
 * that the server closes TCP. The message is sent with the handshake (the server must
 * take frames that arrive with the request head); the close only after the echo.
 *
 * Longer locally: SOAK_CYCLES=200000 npx vitest run test/reliability/soak --testTimeout 0
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Op, cleanupAll, clientFrame, closeFrameOf, connectionsDrained, decodeServerFrame, expectResourcesBack, gc, resourceCounts, settledHeapUsed, startServer, upgradeRequest } from "./helpers.js";
import { HOST, acceptFor, closeBody, forEachLimit } from "../support/index.js";

afterEach(cleanupAll);

const CYCLES = Number(process.env.SOAK_CYCLES ?? 20_000);
const CONCURRENCY = 50;
const MiB = 1024 * 1024;
/** Heap growth allowed after a forced GC; much more when GC cannot be forced. */
const HEAP_SLACK = gc() ? 16 * MiB : 50 * MiB;
/** One cycle taking longer than this is a failure (it normally takes a few ms). */
const CYCLE_TIMEOUT_MS = 15_000;

/** One full life of a connection; rejects with what went wrong. */
function cycle(port: number, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const text = `soak message #${i}`;
    const socket = connect({ host: HOST, port });
    let stage: "handshake" | "echo" | "close" | "tcp close" | "done" = "handshake";
    let pending: Buffer = Buffer.alloc(0);
    const fail = (why: string): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`cycle ${i}, ${stage}: ${why}`));
    };
    const timer = setTimeout(() => fail(`timed out after ${CYCLE_TIMEOUT_MS} ms`), CYCLE_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(Buffer.concat([upgradeRequest("/echo", { key }), clientFrame(Op.Text, text)])));
    socket.on("error", (error) => fail(String(error)));
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (stage === "handshake") {
        const end = pending.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = pending.toString("latin1", 0, end);
        if (!head.startsWith("HTTP/1.1 101 ")) return fail(head);
        if (!head.includes(`\r\nSec-WebSocket-Accept: ${acceptFor(key)}`)) return fail(`wrong accept: ${head}`);
        pending = pending.subarray(end + 4);
        stage = "echo";
      }
      for (;;) {
        const result = decodeServerFrame(pending, 0);
        if ("malformed" in result) return fail(result.malformed);
        if ("needed" in result) return;
        pending = pending.subarray(result.next);
        const { opcode, payload } = result.frame;
        if (stage === "echo" && opcode === Op.Text && payload.toString("utf8") === text) {
          stage = "close";
          socket.write(clientFrame(Op.Close, closeBody(1000)));
        } else if (stage === "close" && opcode === Op.Close && closeFrameOf(payload).code === 1000) {
          stage = "tcp close";
        } else {
          return fail(`unexpected frame ${opcode}: ${payload.toString("hex")}`);
        }
      }
    });
    socket.on("close", () => {
      if (stage !== "tcp close") return fail("closed too early");
      stage = "done";
      clearTimeout(timer);
      resolve();
    });
  });
}

describe("soak", () => {
  it(`${CYCLES} connect / echo / close cycles, ${CONCURRENCY} at a time, leave nothing behind`, async () => {
    const t = await startServer({}, undefined, { keepAccepted: false });
    // Warm up (JIT, slab, first allocations), then take the baselines.
    await forEachLimit(200, CONCURRENCY, (i) => cycle(t.port, i));
    await connectionsDrained(t);
    const baseline = resourceCounts();
    const heapBefore = await settledHeapUsed();

    const failures: string[] = [];
    let completed = 0;
    await forEachLimit(CYCLES, CONCURRENCY, async (i) => {
      try {
        await cycle(t.port, i);
        completed++;
      } catch (error) {
        if (failures.length < 5) failures.push(String(error));
      }
    });

    expect(failures).toEqual([]);
    expect(completed).toBe(CYCLES);
    await connectionsDrained(t);
    await expectResourcesBack(baseline);
    const heapAfter = await settledHeapUsed();
    expect(heapAfter - heapBefore, `heap ${heapBefore} → ${heapAfter} bytes`).toBeLessThan(HEAP_SLACK);
  }, 120_000);
});
