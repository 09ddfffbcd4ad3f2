/**
 * The sans-I/O RFC 6455 frame codec: bytes in, messages out; messages in, bytes out.
 * Nothing here touches a socket or a timer.
 */
export { CloseCode, isValidCloseCode } from "./close-code.js";
export {
  MAX_CLOSE_REASON,
  MERGE_THRESHOLD,
  RSV1,
  encodeClose,
  encodeFrame,
  encodeMessage,
  encodePing,
  encodePong,
  encodeTextFrame,
  frameHeaderSize,
  randomMaskKey,
  truncateCloseReason,
  writeFrameHeader,
  type EncodeOptions,
} from "./encoder.js";
export { mask, maskInto } from "./mask.js";
export { Opcode, isControlOpcode } from "./opcode.js";
export {
  DEFAULT_MAX_PAYLOAD,
  resolveMaxPayload,
  FrameParser,
  type FrameHandler,
  type FrameParserOptions,
  type Role,
} from "./parser.js";
export { ProtocolError } from "./protocol-error.js";
export { Utf8Validator, isValidUtf8 } from "./utf8.js";
