/** A `ws` client whose messages, pings and close are queued from the start. */
import WsClient from "ws";
import { AsyncQueue, WAIT_MS, within } from "./timeouts.js";

export type PeerMessage = string | Buffer;

/** A `ws` client whose messages, pings and close are queued from the start. */
export class WsPeer {
  readonly messages = new AsyncQueue<PeerMessage>("message at the ws client");
  readonly pings = new AsyncQueue<Buffer>("ping at the ws client");
  /** The close code and reason the client saw (1006 when TCP ended without a close). */
  readonly closeEvent: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WsClient) {
    ws.on("message", (data: Buffer, isBinary: boolean) => this.messages.push(isBinary ? data : data.toString("utf8")));
    ws.on("ping", (data: Buffer) => this.pings.push(data));
    ws.on("error", () => {}); // reported through 'close'
    this.closeEvent = new Promise((resolve) =>
      ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
    );
  }

  static open(url: string, protocols?: string | string[], options: WsClient.ClientOptions = {}): Promise<WsPeer> {
    const ws = new WsClient(url, protocols, options);
    const peer = new WsPeer(ws);
    return within(
      new Promise<WsPeer>((resolve, reject) => {
        ws.once("open", () => resolve(peer));
        ws.once("unexpected-response", (_req, res) => {
          reject(new Error(`unexpected response ${res.statusCode}`));
          ws.terminate();
        });
        ws.once("error", reject);
      }),
      WAIT_MS,
      `the ws client to open ${url}`,
    ).catch((error: unknown) => {
      ws.terminate();
      throw error;
    });
  }

  next(ms = WAIT_MS): Promise<PeerMessage> {
    return this.messages.next(ms);
  }

  closed(ms = WAIT_MS): Promise<{ code: number; reason: string }> {
    return within(this.closeEvent, ms, "the ws client's close event");
  }
}

