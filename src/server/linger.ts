import type { Duplex } from "node:stream";

/**
 * After this side has ended the socket (sent its FIN), reads on and discards until the
 * peer ends its side too, which closes the socket, or destroys it after `timeoutMs`.
 *
 * Destroying at once would lose data. Closing a descriptor that has unread input, or that
 * receives input afterwards (a ping sent after the peer's close frame, a request body),
 * makes the kernel answer with a RST and discard what it has not delivered yet: the tail
 * of the last message, the close frame, the HTTP error response. ('finish' only means the
 * bytes reached the kernel, not the peer.)
 */
export function lingerUntilPeerEnds(socket: Duplex, timeoutMs: number): void {
  if (socket.destroyed) return;
  socket.resume();
  const timer = setTimeout(destroy, timeoutMs, socket).unref();
  socket.once("close", () => clearTimeout(timer));
}

function destroy(socket: Duplex): void {
  socket.destroy();
}
