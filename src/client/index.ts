/** The Node client: `connect(url)` gives a `WebSocket` with the server side's pull API. */
export { connect, type ConnectOptions } from "./connect.js";
