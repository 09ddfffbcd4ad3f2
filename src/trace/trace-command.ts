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
 * `wsraw trace --listen PORT --target ws://HOST:PORT[/path] [--json] [--preview BYTES]`:
 * runs the annotating relay until SIGINT or SIGTERM. The line saying where it listens
 * goes to stdout in text mode, to stderr with --json (so stdout is JSON only).
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
    },
  });
  if (values.listen === undefined) throw new UsageError("trace needs --listen PORT");
  if (values.target === undefined) throw new UsageError("trace needs --target ws://HOST:PORT[/path]");
  const port = integer("listen", values.listen);
  const previewBytes = values.preview === undefined ? undefined : integer("preview", values.preview);
  const target = parseTraceTarget("--target", values.target);
  const json = values.json ?? false;
  const relay = await Relay.start({
    port,
    host: values.host ?? "127.0.0.1",
    target,
    onEvent: eventPrinter(process.stdout, json),
    annotator: { previewBytes },
  });
  const host = values.host ?? "127.0.0.1";
  const listening = `wsraw trace: listening on ws://${host.includes(":") ? `[${host}]` : host}:${relay.port}${target.path}, relaying to ws://${values.target.replace(/^ws:\/\//, "")}\n`;
  (json ? process.stderr : process.stdout).write(listening);
  const shutdown = (): void => {
    relay.close().finally(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

function integer(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${value}`);
  return number;
}
