import { HttpError } from "../http/errors.js";
import { RequestHeadParser } from "../http/request-head.js";
import { ResponseHeadParser } from "../http/response-head.js";
import type { BytesEvent, Direction, TraceEvent } from "./events.js";
import { FrameAnnotator, type FrameAnnotatorOptions } from "./frame-annotator.js";
import { type OfferedInRequest, annotateRequest, annotateResponse } from "./handshake-annotator.js";
import { DEFAULT_PREVIEW_BYTES, previewPayload } from "./payload-preview.js";

/** Options of a {@link ConnectionAnnotator}: the frame limits. */
export type ConnectionAnnotatorOptions = FrameAnnotatorOptions;

/** Where one direction is: reading its HTTP head, its frames, or bytes that are neither. */
type Phase =
  | { kind: "head"; parser: RequestHeadParser | ResponseHeadParser }
  | { kind: "frames"; annotator: FrameAnnotator }
  | { kind: "raw"; why: string };

/**
 * Describes one WebSocket connection from the bytes each side sends: first the opening
 * handshake (RFC 6455 §4), then the frames (§5), or, when a side does not speak the
 * protocol (not HTTP, a refusal), its bytes as they are. Sans-I/O and never failing: a
 * relay feeds it copies of what it forwards and prints what it returns.
 */
export class ConnectionAnnotator {
  private readonly phases: Record<Direction, Phase>;
  private readonly offsets: Record<Direction, number> = { client: 0, server: 0 };
  private readonly previewBytes: number;
  private offered: OfferedInRequest | undefined;
  /** The client's frame annotator, once its head is read: the 101 may turn deflate on. */
  private clientFrames: FrameAnnotator | undefined;

  constructor(
    readonly connection: number,
    private readonly options: ConnectionAnnotatorOptions = {},
  ) {
    this.previewBytes = options.previewBytes ?? DEFAULT_PREVIEW_BYTES;
    this.phases = {
      client: { kind: "head", parser: new RequestHeadParser() },
      server: { kind: "head", parser: new ResponseHeadParser() },
    };
  }

  /** The next bytes `direction` sent; returns what they complete. `chunk` is not modified. */
  push(direction: Direction, chunk: Buffer): TraceEvent[] {
    const events: TraceEvent[] = [];
    const phase = this.phases[direction];
    if (phase.kind === "frames") {
      events.push(...phase.annotator.push(chunk));
    } else if (phase.kind === "raw") {
      events.push(this.bytes(direction, chunk, phase.why));
    } else {
      let result;
      try {
        result = phase.parser.push(chunk);
      } catch (error) {
        const what = direction === "client" ? "an HTTP request" : "an HTTP response";
        const why = `not ${what}: ${error instanceof HttpError ? error.message : String(error)}`;
        this.phases[direction] = { kind: "raw", why };
        events.push(this.bytes(direction, chunk, why));
        this.offsets[direction] += chunk.length;
        return events;
      }
      if (result === null) {
        this.offsets[direction] += chunk.length;
        return events;
      }
      this.offsets[direction] += chunk.length - result.rest.length;
      if (direction === "client") this.requestRead(result.head as never, events);
      else this.responseRead(result.head as never, events);
      if (result.rest.length > 0) events.push(...this.push(direction, result.rest));
      return events;
    }
    this.offsets[direction] += chunk.length;
    return events;
  }

  /** `direction` ended (its side closed or half-closed the TCP connection). */
  end(direction: Direction): TraceEvent[] {
    const phase = this.phases[direction];
    if (phase.kind !== "frames") return [];
    const truncated = phase.annotator.end();
    return truncated === undefined ? [] : [truncated];
  }

  private requestRead(head: Parameters<typeof annotateRequest>[1], events: TraceEvent[]): void {
    const { event, offered } = annotateRequest(this.connection, head);
    this.offered = offered;
    events.push(event);
    this.clientFrames = new FrameAnnotator(this.connection, "client", this.offsets.client, this.options);
    this.phases.client = { kind: "frames", annotator: this.clientFrames };
  }

  private responseRead(head: Parameters<typeof annotateResponse>[1], events: TraceEvent[]): void {
    const { event, deflate } = annotateResponse(this.connection, head, this.offered);
    events.push(event);
    if (event.status !== 101) {
      this.phases.server = { kind: "raw", why: `the body of a ${event.status} response: the server did not switch protocols` };
      return;
    }
    const serverFrames = new FrameAnnotator(this.connection, "server", this.offsets.server, this.options);
    if (deflate !== undefined) {
      serverFrames.useDeflate(deflate);
      this.clientFrames?.useDeflate(deflate);
    }
    this.phases.server = { kind: "frames", annotator: serverFrames };
  }

  private bytes(direction: Direction, chunk: Buffer, why: string): BytesEvent {
    return {
      type: "bytes",
      connection: this.connection,
      direction,
      offset: this.offsets[direction],
      length: chunk.length,
      payload: previewPayload(chunk, chunk.length, true, this.previewBytes),
      why,
    };
  }
}
