import { type Route, type WebSocket, type WsrawServer, requireWebSocket } from "../server/index.js";

const MAX_NAME = 32;
const MAX_ROOM = 64;
const MAX_TEXT = 2000;
// Letters, digits, punctuation and spaces; no control characters.
const PRINTABLE = /^[^\p{Cc}\p{Cf}]+$/u;

/** What the chat server sends (JSON text messages). */
type ChatEvent =
  | { type: "message"; from: string; text: string; at: number }
  | { type: "presence"; room: string; users: string[] }
  | { type: "system"; text: string };

/**
 * Where the chat's rooms live: on this server (`localChatRooms`, the default), or on every
 * server attached to one Redis (`redisChatRooms`), so that users of several processes
 * chat in the same rooms.
 */
export interface ChatRooms {
  /** Puts `ws` (whose `user` is its name) in `room`; settled once others can see it there. */
  join(room: string, ws: WebSocket): void | Promise<void>;
  leave(room: string, ws: WebSocket): void | Promise<void>;
  /** Sends a chat event to the room's members, except `except`. */
  send(room: string, event: string, except?: WebSocket): void | Promise<unknown>;
  /** The names in the room, sorted. */
  users(room: string): string[] | Promise<string[]>;
}

/** The group a chat room is, locally or shared: the prefix keeps rooms apart from other groups. */
export function chatGroupName(room: string): string {
  return `chat:${room}`;
}

/** Rooms that are groups of this server. */
export function localChatRooms(server: WsrawServer): ChatRooms {
  const group = (room: string) => server.group(chatGroupName(room));
  return {
    join: (room, ws) => void group(room).add(ws),
    leave: (room, ws) => void group(room).remove(ws),
    send: (room, event, except) => void group(room).broadcast(event, { except }),
    users: (room) => [...new Set([...group(room)].map((member) => String(member.user)))].sort(),
  };
}

/**
 * The demo's chat: `ws://host/chat?room=R&name=N`. A user is addressed by name
 * (`req.user`), so `server.sendToUser(name, …)` reaches all their tabs. Wire format: the
 * client sends `{"type":"message","text":"…"}`; the server sends the `ChatEvent`s above.
 * The route answers the browser client's `wsraw:ping` heartbeat.
 */
export function chatRoute(server: WsrawServer, rooms: ChatRooms = localChatRooms(server)): Route {
  return requireWebSocket(
    async (req) => {
      const ws = req.websocket;
      const name = String(req.user);
      const room = req.query.get("room") || "lobby";
      const announce = async (event: ChatEvent, except?: WebSocket): Promise<void> => {
        await rooms.send(room, JSON.stringify(event), except);
      };
      const presence = async (): Promise<void> => {
        await announce({ type: "presence", room, users: await rooms.users(room) });
      };
      await rooms.join(room, ws);
      await announce({ type: "system", text: `${name} joined` }, ws);
      await presence();
      try {
        for await (const message of ws) {
          const text = chatText(message);
          if (text === undefined) {
            ws.send(JSON.stringify({ type: "system", text: "not a chat message: ignored" } satisfies ChatEvent));
            continue;
          }
          await announce({ type: "message", from: name, text, at: Date.now() });
        }
      } finally {
        await rooms.leave(room, ws);
        await announce({ type: "system", text: `${name} left` });
        await presence();
      }
    },
    {
      answerAppPings: true,
      authorize: (req) => {
        const name = req.query.get("name")?.trim() ?? "";
        const room = req.query.get("room") ?? "lobby";
        if (!validLabel(name, MAX_NAME)) return { status: 400, message: `name must be 1-${MAX_NAME} printable characters` };
        if (room !== "" && !validLabel(room, MAX_ROOM)) {
          return { status: 400, message: `room must be 1-${MAX_ROOM} printable characters` };
        }
        req.user = name;
        return true;
      },
    },
  );
}

function validLabel(value: string, max: number): boolean {
  return value.length > 0 && value.length <= max && PRINTABLE.test(value);
}

/** The text of a well-formed chat message from a client, or undefined. */
function chatText(message: string | Buffer): string | undefined {
  if (typeof message !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { type, text } = parsed as { type?: unknown; text?: unknown };
  if (type !== "message" || typeof text !== "string" || text.length === 0) return undefined;
  return text.slice(0, MAX_TEXT);
}
