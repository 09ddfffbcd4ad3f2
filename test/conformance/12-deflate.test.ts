/**
 * Autobahn section 12 (WebSocket compression, different payloads), RFC 7692: the five
 * test data sets of Autobahn's case12_x_x.py, each cut into messages of the 18 sizes and
 * auto-fragment sizes of its MSG_SIZES, sent compressed with Autobahn's default offer,
 * one at a time; each echo must come back with the same opcode and bytes, and the case
 * ends with a clean closing handshake.
 *
 * Bounded: Autobahn sends 1000 messages per case. Here a case sends all 1000 up to 256 KiB
 * of payload and fewer above (256 of 1 KiB, 64 of 4 KiB, ... at least 4 of 128 KiB: see
 * `boundedCount`), so the whole file runs in seconds; every size and every fragment size
 * is kept, and the slices still walk through the data as Autobahn's do.
 *
 * The data files are not shipped with this repository: each is replaced by deterministic
 * synthetic data of the same size and kind (see TEST_DATA in deflate-harness.ts).
 *
 * Beyond the catalogue:
 * - the server's `threshold` (default 1024): an echo shorter than that comes back
 *   uncompressed, a longer one compressed (RSV1) unless it would not shrink (RFC 7692 §6
 *   lets any message go uncompressed; see `compressionExpected`); with `threshold: 0`
 *   the small sizes come back compressed too when they shrink;
 * - pipelined bursts of mixed sizes: the echoes keep the order of the messages even when
 *   some are compressed on the thread pool and others synchronously.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_THRESHOLD,
  MSG_SIZES,
  TEST_DATA,
  autobahnOffer,
  boundedCount,
  connectDeflate,
  echoPipelined,
  echoSeries,
  fmtSize,
  itStillServesCompressed,
  ringSlices,
  useDeflateServer,
} from "./deflate-harness.js";
import { itStillServes } from "./harness.js";
import { OP } from "../support/index.js";

/** Autobahn's default offer, PerMessageDeflateOffer(): `permessage-deflate; client_no_context_takeover; client_max_window_bits`. */
const DEFAULT_OFFER = autobahnOffer(false, 0);

/** Payload bytes per case before the message count is cut below Autobahn's 1000. */
const BUDGET = 256 * 1024;
const MIN_MESSAGES = 4;
const CASE_TIMEOUT_MS = 20_000;

const server = useDeflateServer({ perMessageDeflate: true });

for (const data of TEST_DATA) {
  const opcode = data.binary ? OP.BINARY : OP.TEXT;
  describe(`${data.id} ${data.desc} (${data.binary ? "binary" : "utf8"}, ${data.size} bytes)`, () => {
    MSG_SIZES.forEach(([length, count, , fragment], index) => {
      const n = boundedCount(length, count, BUDGET, MIN_MESSAGES);
      const title =
        `${data.id}.${index + 1} ${n}${n < count ? ` (of ${count})` : ""} compressed messages of ${fmtSize(length)}, ` +
        `auto-fragment ${fragment === 0 ? "off" : `to ${fmtSize(fragment)}`} → echoed in order, then a clean close`;
      it(
        title,
        async () => {
          const client = await connectDeflate(server().port, { offer: DEFAULT_OFFER });
          expect(client.deflate, "permessage-deflate negotiated").toBeDefined();
          const result = await echoSeries(client, opcode, ringSlices(data.bytes(), length, n), {
            fragmentSize: fragment,
            threshold: DEFAULT_THRESHOLD,
          });
          expect(result.count).toBe(n);
          await client.closeHandshake();
        },
        CASE_TIMEOUT_MS,
      );
    });

    it(`${data.id}.x pipelined burst of 60 messages of mixed sizes (16 B to 128 KiB) → echoed in order`, async () => {
      const sizes = [131072, 16, 65536, 64, 1024, 32768, 256, 4096, 8192, 1023];
      const messages = [...ringSlices(data.bytes(), (i) => sizes[i % sizes.length], 60)];
      const client = await connectDeflate(server().port, { offer: DEFAULT_OFFER });
      await echoPipelined(client, opcode, messages, { threshold: DEFAULT_THRESHOLD, fragmentSize: 4096 });
      await client.closeHandshake();
    }, CASE_TIMEOUT_MS);
  });
}

describe("12.x with threshold 0: the small sizes come back compressed too (when they shrink)", () => {
  const eager = useDeflateServer({ perMessageDeflate: { threshold: 0 } });
  for (const data of TEST_DATA) {
    for (const length of [16, 64, 256]) {
      it(`${data.id} 250 messages of ${length} B → echoed, compressed when they shrink`, async () => {
        const client = await connectDeflate(eager().port, { offer: DEFAULT_OFFER });
        const opcode = data.binary ? OP.BINARY : OP.TEXT;
        await echoSeries(client, opcode, ringSlices(data.bytes(), length, 250), { threshold: 0 });
        await client.closeHandshake();
      });
    }
  }
  itStillServesCompressed(eager);
});

itStillServesCompressed(server);
itStillServes(server);
