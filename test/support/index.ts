/**
 * Test support shared by every test folder: bounded waits, the opening handshake and
 * frames written by hand, a raw WebSocket client over TCP, a queued `ws` client, servers
 * and clients torn down per test, and child processes killed by PID.
 */
export * from "./frames.js";
export * from "./handshake.js";
export * from "./processes.js";
export * from "./raw-client.js";
export * from "./resources.js";
export * from "./timeouts.js";
export * from "./ws-peer.js";
