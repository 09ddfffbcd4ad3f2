import { Buffer } from "node:buffer";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { connect } from "../client/connect.js";
import type { Message } from "../connection/websocket.js";
import { closeCodeMeaning } from "./close-meaning.js";
import { Relay } from "./relay.js";
import { eventPrinter, readCa } from "./trace-command.js";
import { parseTraceTarget } from "./trace-target.js";
import { UsageError } from "./usage-error.js";

/**
 * `wsraw connect URL [--protocol P]... [--header "Name: value"]... [--binary-hex]
 * [--deflate] [--http2] [--ca FILE] [--trace] [--json]`: an interactive client in the spirit of
 * wscat. Each stdin line is sent as a text message (with --binary-hex, hex bytes as a
 * binary one); every message received is printed as `< text` or `< (binary, N bytes)
 * hex`. EOF or Ctrl-C closes with 1000 and waits for the server's close frame (RFC 6455
 * §7.1.2).
 *
 * With --trace the connection goes through an in-process relay on 127.0.0.1 and the
 * annotated frames go to stderr; so the `Host` header names the relay (for `wss://`, the
 * relay is the TLS client). `--ca FILE` trusts those certificate authorities (PEM) instead
 * of Node's. `--http2` opens the WebSocket as a stream of an HTTP/2 connection (RFC 8441),
 * which the relay, reading HTTP/1.1, cannot trace.
 *
 * @returns the exit status: 0 when the close handshake completed, 1 otherwise.
 */
export async function connectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      protocol: { type: "string", multiple: true },
      header: { type: "string", multiple: true },
      "binary-hex": { type: "boolean" },
      deflate: { type: "boolean" },
      http2: { type: "boolean" },
      trace: { type: "boolean" },
      json: { type: "boolean" },
      ca: { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("connect needs one ws:// or wss:// URL");
  if (values.http2 && values.trace) throw new UsageError("--trace reads HTTP/1.1 connections: it cannot trace --http2");
  let url = new URL(positionals[0]!);
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header must be "Name: value", got ${JSON.stringify(header)}`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const binaryHex = values["binary-hex"] ?? false;

  const ca = readCa(values.ca);
  let relay: Relay | undefined;
  if (values.trace) {
    const target = parseTraceTarget("connect --trace", url.href);
    relay = await Relay.start({ port: 0, target: { ...target, ca }, onEvent: eventPrinter(process.stderr, values.json ?? false) });
    url = new URL(`ws://127.0.0.1:${relay.port}${target.path}`);
  }
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    const ws = await connect(url, { protocols: values.protocol, headers, perMessageDeflate: values.deflate ?? false, ca, http2: values.http2 ?? false });
    const agreed = [ws.protocol && `subprotocol ${ws.protocol}`, ws.extensions && `extensions ${ws.extensions}`].filter(Boolean);
    out(`connected to ${positionals[0]}${agreed.length > 0 ? ` (${agreed.join("; ")})` : ""}`);

    const input = createInterface({ input: process.stdin, terminal: false });
    const closeNormally = (): void => ws.close(1000);
    input.on("line", (line) => {
      if (ws.readyState !== 1) return;
      if (!binaryHex) return void ws.send(line);
      const bytes = parseHex(line);
      if (bytes === undefined) process.stderr.write(`wsraw: not hex, not sent: ${JSON.stringify(line)}\n`);
      else ws.send(bytes);
    });
    // EOF (or Ctrl-D) and Ctrl-C end the session the same way: a close handshake.
    input.once("close", closeNormally);
    process.once("SIGINT", closeNormally);

    for await (const message of ws) out(`< ${format(message)}`);
    const info = await ws.closed;
    input.off("close", closeNormally);
    process.off("SIGINT", closeNormally);
    input.close();
    process.stdin.destroy();
    const reason = info.reason === "" ? "" : ` ${JSON.stringify(info.reason)}`;
    out(`closed: ${info.code} (${closeCodeMeaning(info.code)})${reason}, ${info.wasClean ? "clean" : "not clean"}`);
    return info.wasClean ? 0 : 1;
  } finally {
    await relay?.close();
  }
}

function format(message: Message): string {
  if (typeof message === "string") return message;
  return `(binary, ${message.length} bytes) ${message.toString("hex").replace(/(..)(?=.)/g, "$1 ")}`;
}

/** `"ff 00 7f"` or `"ff007f"` as bytes; undefined when the line is not whole hex bytes. */
export function parseHex(line: string): Buffer | undefined {
  const digits = line.replace(/\s+/g, "");
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) return undefined;
  return Buffer.from(digits, "hex");
}
