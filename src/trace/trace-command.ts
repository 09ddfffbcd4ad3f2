import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { TraceEvent } from "./events.js";
import { Relay } from "./relay.js";
import { renderJson } from "./render-json.js";
import { renderText } from "./render-text.js";
import { parseTraceTarget } from "./trace-target.js";
import { UsageError } from "./usage-error.js";

/** How events reach the terminal: text (coloured on a TTY) or one JSON object a line. */
export function eventPrinter(stream: NodeJS.WriteStream, json: boolean): (event: TraceEvent) => void {
  // Colour only where a person reads it: never in a pipe, a file or a test.
  const colour = stream.isTTY === true && process.env.NO_COLOR === undefined;
  return json ? (event) => void stream.write(renderJson(event)) : (event) => void stream.write(renderText(event, { colour }));
}

/**
 * `wsraw trace --listen PORT --target ws[s]://HOST:PORT[/path] [--ca FILE] [--json]
 * [--preview BYTES]`: runs the annotating relay until SIGINT or SIGTERM. For a `wss://`
 * target the relay is the TLS client (its certificate checked against Node's CAs, or
 * those of `--ca`), and clients connect to it with plain `ws://`. The line saying where it
 * listens goes to stdout in text mode, to stderr with --json (so stdout is JSON only).
 */
export async function traceCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: "string" },
      host: { type: "string" },
      target: { type: "string" },
      json: { type: "boolean" },
      preview: { type: "string" },
      ca: { type: "string" },
    },
  });
  if (values.listen === undefined) throw new UsageError("trace needs --listen PORT");
  if (values.target === undefined) throw new UsageError("trace needs --target ws[s]://HOST:PORT[/path]");
  const port = integer("listen", values.listen);
  const previewBytes = values.preview === undefined ? undefined : integer("preview", values.preview);
  const target = parseTraceTarget("--target", values.target);
  const json = values.json ?? false;
  const relay = await Relay.start({
    port,
    host: values.host ?? "127.0.0.1",
    target: { ...target, ca: readCa(values.ca) },
    onEvent: eventPrinter(process.stdout, json),
    annotator: { previewBytes },
  });
  const host = values.host ?? "127.0.0.1";
  const listening = `wsraw trace: listening on ws://${host.includes(":") ? `[${host}]` : host}:${relay.port}${target.path}, relaying to ${values.target}\n`;
  (json ? process.stderr : process.stdout).write(listening);
  const shutdown = (): void => {
    relay.close().finally(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/** The certificate authorities of `--ca FILE` (PEM), to trust instead of Node's for a wss:// target. */
export function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`--ca: cannot read ${file}: ${(error as Error).message}`);
  }
}

function integer(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${value}`);
  return number;
}
