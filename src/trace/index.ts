/**
 * Watching the protocol: an annotating relay (`wsraw trace`) and the sans-I/O annotators
 * behind it, which describe a connection's handshake and frames with the RFC sections
 * that define them, and point out the rules broken without stopping.
 */
export { ConnectionAnnotator, type ConnectionAnnotatorOptions } from "./connection-annotator.js";
export { FrameAnnotator, type FrameAnnotatorOptions } from "./frame-annotator.js";
export { Relay, type RelayOptions } from "./relay.js";
export { renderJson } from "./render-json.js";
export { renderText, type TextStyle } from "./render-text.js";
export type * from "./events.js";
