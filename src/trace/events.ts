/**
 * What a trace reports, as plain data: the annotators make these events, the renderers
 * (`render-text.ts`, `render-json.ts`) print them. Byte strings are hex so that every
 * event is JSON as it is.
 */

/** Which way bytes travel: sent by the client (to the server) or by the server. */
export type Direction = "client" | "server";

/** A rule of RFC 6455 (or RFC 7692, RFC 9112) that some bytes break. */
export interface Violation {
  /** What is wrong, in one sentence. */
  message: string;
  /** Where the rule is written, e.g. "RFC 6455 §5.1". */
  rule: string;
}

/** One header line with what it is for. */
export interface AnnotatedHeader {
  name: string;
  value: string;
  /** What the header does in the handshake, with its section; "" for headers WebSocket does not use. */
  note: string;
}

/** The accept value computed step by step (RFC 6455 §4.2.2 step 5.4, §1.3). */
export interface AcceptSteps {
  key: string;
  guid: string;
  /** SHA-1 of key + GUID, hex. */
  sha1: string;
  /** base64 of the SHA-1: what the server must send. */
  expected: string;
  /** What it sent, or null for none. */
  received: string | null;
  matches: boolean;
}

/** permessage-deflate as agreed in the handshake (RFC 7692 §7.1). */
export interface NegotiatedDeflate {
  /** The response's extension parameters, as sent. */
  response: string;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** A bounded look at a payload: text when it is text, a hex dump otherwise. */
export interface PayloadPreview {
  /** "text" when shown as UTF-8 text, "hex" when shown as bytes. */
  kind: "text" | "hex";
  /** The text, or the hex bytes separated by spaces. */
  shown: string;
  /** Bytes of the payload left out of `shown`. */
  omitted: number;
}

/** Fields every event has. */
interface EventBase {
  /** The connection's number in this trace, from 1. */
  connection: number;
}

export interface ConnectionEvent extends EventBase {
  type: "connection";
  /** The client's address and port. */
  from: string;
  /** Where the relay forwards it: host:port. */
  target: string;
}

export interface RequestEvent extends EventBase {
  type: "request";
  direction: "client";
  requestLine: string;
  headers: AnnotatedHeader[];
  /** Subprotocols and extensions offered. */
  protocols: string[];
  extensions: string;
  violations: Violation[];
}

export interface ResponseEvent extends EventBase {
  type: "response";
  direction: "server";
  statusLine: string;
  status: number;
  headers: AnnotatedHeader[];
  /** For a 101: the accept value worked out from the request's key. */
  accept: AcceptSteps | null;
  /** The subprotocol selected, or "". */
  protocol: string;
  /** permessage-deflate, when the 101 accepted it. */
  deflate: NegotiatedDeflate | null;
  violations: Violation[];
}

/** One frame (RFC 6455 §5.2), with every field of its header. */
export interface FrameEvent extends EventBase {
  type: "frame";
  direction: Direction;
  /** Where the frame starts in its direction's byte stream (the handshake included). */
  offset: number;
  /** The header bytes, hex. */
  header: string;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  /** "text", "binary", "continuation", "close", "ping", "pong", or "reserved". */
  opcodeName: string;
  masked: boolean;
  /** The masking key, hex, or null when not masked. */
  maskKey: string | null;
  payloadLength: number;
  /** Which length encoding carried it (§5.2). */
  lengthEncoding: "7-bit" | "16-bit" | "64-bit";
  /** The unmasked payload, cut to a bounded size. */
  payload: PayloadPreview;
  /** For a close frame: its code (1005 when it has none), what it means, and the reason. */
  close: { code: number; meaning: string; reason: string } | null;
  /** On the last frame of a message. */
  message: MessageSummary | null;
  violations: Violation[];
}

/** What a complete data message amounted to, given on its last frame. */
export interface MessageSummary {
  kind: "text" | "binary";
  frames: number;
  /** Bytes on the wire, all frames' payloads together. */
  size: number;
  /** RSV1 on its first frame: compressed with permessage-deflate (RFC 7692 §6). */
  compressed: boolean;
  /** For a compressed message: its inflated size and content, or why it could not be inflated. */
  inflated: { size: number; payload: PayloadPreview } | { error: string } | null;
}

/** Bytes that are not frames: an HTTP body, or what follows something that is not HTTP. */
export interface BytesEvent extends EventBase {
  type: "bytes";
  direction: Direction;
  offset: number;
  length: number;
  payload: PayloadPreview;
  /** Why these bytes are shown raw. */
  why: string;
}

/** A frame that had not ended when its direction ended. */
export interface TruncatedEvent extends EventBase {
  type: "truncated";
  direction: Direction;
  /** What was cut short. */
  what: string;
}

/** Something about the TCP connections: the target connected, one side ended, an error. */
export interface TransportEvent extends EventBase {
  type: "transport";
  what: "target-connected" | "end" | "error" | "closed";
  /** The side it is about, when it is about one. */
  side: Direction | null;
  message: string;
}

export type TraceEvent =
  | ConnectionEvent
  | RequestEvent
  | ResponseEvent
  | FrameEvent
  | BytesEvent
  | TruncatedEvent
  | TransportEvent;
