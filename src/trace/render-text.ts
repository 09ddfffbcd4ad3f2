import type {
  AcceptSteps,
  AnnotatedHeader,
  BytesEvent,
  FrameEvent,
  NegotiatedDeflate,
  PayloadPreview,
  RequestEvent,
  ResponseEvent,
  TraceEvent,
  Violation,
} from "./events.js";

/** How text output looks. */
export interface TextStyle {
  /** ANSI colours: for a terminal only (`process.stdout.isTTY`), never in files or pipes. */
  colour: boolean;
}

/** The column where a field's RFC section is printed. */
const SECTION_COLUMN = 52;
const INDENT = "     ";

/**
 * One event as lines of text for a person, each line starting with the connection's
 * number; frames one field a line with the RFC 6455 section that defines it.
 */
export function renderText(event: TraceEvent, style: TextStyle = { colour: false }): string {
  const c = palette(style.colour);
  const id = `#${event.connection}`;
  let lines: string[];
  switch (event.type) {
    case "connection":
      lines = [c.bold(`connection from ${event.from}, relayed to ${event.target}`)];
      break;
    case "request":
      lines = request(event, c);
      break;
    case "response":
      lines = response(event, c);
      break;
    case "frame":
      lines = frame(event, c);
      break;
    case "bytes":
      lines = bytes(event, c);
      break;
    case "truncated":
      lines = [`${arrow(event.direction, c)}  cut short: ${event.what}`];
      break;
    case "transport":
      lines = [event.what === "error" ? c.red(event.message) : c.dim(event.message)];
      break;
  }
  return lines.map((line, i) => (i === 0 ? `${id} ${line}` : `${" ".repeat(id.length)} ${line}`)).join("\n") + "\n";
}

type Palette = ReturnType<typeof palette>;

function palette(colour: boolean) {
  const wrap = (code: string) => (text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { bold: wrap("1"), dim: wrap("2"), red: wrap("31"), green: wrap("32"), cyan: wrap("36"), magenta: wrap("35") };
}

function arrow(direction: "client" | "server", c: Palette): string {
  return direction === "client" ? c.cyan("client → server") : c.magenta("server → client");
}

/** `text`, then its section at the section column (or two spaces after a long text). */
function field(text: string, section: string, c: Palette): string {
  return `${INDENT}${text}${" ".repeat(Math.max(2, SECTION_COLUMN - INDENT.length - text.length))}${c.dim(section)}`;
}

function request(event: RequestEvent, c: Palette): string[] {
  return [
    `${arrow("client", c)}  opening handshake request ${c.dim("RFC 6455 §4.1")}`,
    `${INDENT}${c.bold(event.requestLine)}`,
    ...headers(event.headers, c),
    ...violations(event.violations, c),
  ];
}

function response(event: ResponseEvent, c: Palette): string[] {
  const lines = [
    `${arrow("server", c)}  opening handshake response ${c.dim("RFC 6455 §4.2.2")}`,
    `${INDENT}${c.bold(event.statusLine)}`,
    ...headers(event.headers, c),
  ];
  if (event.status !== 101) lines.push(`${INDENT}the server did not switch protocols: this is not a WebSocket connection`);
  if (event.accept !== null) lines.push(...accept(event.accept, c));
  if (event.deflate !== null) lines.push(...deflate(event.deflate, c));
  lines.push(...violations(event.violations, c));
  return lines;
}

function headers(list: AnnotatedHeader[], c: Palette): string[] {
  const lines: string[] = [];
  for (const { name, value, note } of list) {
    lines.push(`${INDENT}${name}: ${value}`);
    if (note !== "") lines.push(`${INDENT}    ${c.dim(note)}`);
  }
  return lines;
}

function accept(steps: AcceptSteps, c: Palette): string[] {
  return [
    `${INDENT}Sec-WebSocket-Accept, step by step ${c.dim("RFC 6455 §4.2.2 step 5.4; the GUID is from §1.3")}`,
    `${INDENT}  key + GUID  ${steps.key}${steps.guid}`,
    `${INDENT}  SHA-1       ${steps.sha1}`,
    `${INDENT}  base64      ${steps.expected}`,
    `${INDENT}  received    ${steps.received ?? "(none)"}  ${steps.matches ? c.green("matches") : c.red("does NOT match")}`,
  ];
}

function deflate(d: NegotiatedDeflate, c: Palette): string[] {
  const yesNo = (value: boolean): string => (value ? "yes" : "no");
  return [
    `${INDENT}permessage-deflate agreed ${c.dim("RFC 7692 §7.1")}`,
    `${INDENT}  server_no_context_takeover ${yesNo(d.serverNoContextTakeover)}, client_no_context_takeover ${yesNo(d.clientNoContextTakeover)}`,
    `${INDENT}  server window 2^${d.serverMaxWindowBits} bytes, client window 2^${d.clientMaxWindowBits} bytes`,
  ];
}

function frame(f: FrameEvent, c: Palette): string[] {
  const bit = (value: boolean): string => (value ? "1" : "0");
  const lines = [
    `${arrow(f.direction, c)}  ${c.bold(`${f.opcodeName} frame`)} at byte ${f.offset}: header ${f.header}` +
      (f.payloadLength > 0 ? ` + ${f.payloadLength} payload bytes` : ""),
    field(`FIN ${bit(f.fin)}  RSV1 ${bit(f.rsv1)}  RSV2 ${bit(f.rsv2)}  RSV3 ${bit(f.rsv3)}`, f.rsv1 ? "RFC 6455 §5.2, RFC 7692 §6" : "RFC 6455 §5.2", c),
    field(`opcode 0x${f.opcode.toString(16)} ${f.opcodeName}`, OPCODE_SECTIONS[f.opcodeName] ?? "RFC 6455 §5.2", c),
    field(f.masked ? `MASK 1  masking key ${f.maskKey!.replace(/(..)(?=.)/g, "$1 ")}` : "MASK 0  no masking key", "RFC 6455 §5.3", c),
    field(`payload length ${f.payloadLength}, in the ${f.lengthEncoding} field`, "RFC 6455 §5.2", c),
  ];
  if (f.payloadLength > 0) lines.push(`${INDENT}payload${f.masked ? " (unmasked)" : ""} ${preview(f.payload)}`);
  if (f.close !== null) {
    lines.push(field(`close code ${f.close.code}: ${f.close.meaning}`, "RFC 6455 §7.4.1", c));
    if (f.close.reason !== "") lines.push(field(`reason ${JSON.stringify(f.close.reason)}`, "RFC 6455 §5.5.1", c));
  }
  const m = f.message;
  if (m !== null) {
    if (m.frames > 1) lines.push(field(`ends a ${m.kind} message of ${m.frames} frames, ${m.size} bytes`, "RFC 6455 §5.4", c));
    if (m.inflated !== null) {
      lines.push(
        "error" in m.inflated
          ? field(`compressed, ${m.size} bytes: ${m.inflated.error}`, "RFC 7692 §7.2.2", c)
          : field(`compressed ${m.size} bytes, inflated ${m.inflated.size} bytes`, "RFC 7692 §7.2.2", c),
      );
      if (!("error" in m.inflated)) lines.push(`${INDENT}inflated ${preview(m.inflated.payload)}`);
    }
  }
  lines.push(...violations(f.violations, c));
  return lines;
}

const OPCODE_SECTIONS: Record<string, string> = {
  continuation: "RFC 6455 §5.4",
  text: "RFC 6455 §5.6",
  binary: "RFC 6455 §5.6",
  close: "RFC 6455 §5.5.1",
  ping: "RFC 6455 §5.5.2",
  pong: "RFC 6455 §5.5.3",
};

function bytes(event: BytesEvent, c: Palette): string[] {
  return [
    `${arrow(event.direction, c)}  ${event.length} bytes at byte ${event.offset}, shown as they are: ${event.why}`,
    `${INDENT}${preview(event.payload)}`,
  ];
}

/** A payload preview: quoted text, or hex; with how much was left out. */
function preview(p: PayloadPreview): string {
  const shown = p.kind === "text" ? JSON.stringify(p.shown) : `(hex) ${p.shown}`;
  return p.omitted > 0 ? `${shown} … and ${p.omitted} more bytes` : shown;
}

function violations(list: Violation[], c: Palette): string[] {
  return list.map((v) => c.red(`${INDENT}! violation: ${v.message} (${v.rule}); forwarded as it is`));
}
