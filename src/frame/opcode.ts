/**
 * Frame opcodes (RFC 6455 §5.2, §11.8). Values 0x3-0x7 and 0xB-0xF are reserved: a frame
 * that carries one fails the connection with 1002.
 */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Control frames are the opcodes with the high bit set (RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}
