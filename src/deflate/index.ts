/**
 * permessage-deflate (RFC 7692) between frames and messages, for both roles: the
 * negotiated parameters (`src/http/permessage-deflate.ts`) pick how each direction's
 * messages are compressed; `node:zlib` is the engine.
 */
export { EMPTY_BLOCK, type FragmentedMessage, MessageDeflater } from "./message-deflater.js";
export { MessageInflater } from "./message-inflater.js";
export { type DeflateSettings, type PerMessageDeflateOptions, deflateSettings } from "./options.js";
export { zlibAvailable } from "./zlib-engine.js";
