export { ConnectionClosedError } from "../connection/errors.js";
export type { HeartbeatOptions } from "../connection/liveness.js";
export { WsRequest, type PeerTls, type UpgradedRequest, type UserId } from "./request.js";
export {
  acceptWebSocket,
  httpOnly,
  requireWebSocket,
  type AuthorizeResult,
  type Authorizer,
  type HttpResult,
  type OriginPolicy,
  type Route,
  type RouteOptions,
} from "./routes.js";
export { WsrawServer, createServer, type ServerOptions, type ServerStats } from "./server.js";
export { APP_PING, APP_PONG, ReadyState, WebSocket, type CloseInfo, type FragmentedSendOptions, type Message } from "../connection/websocket.js";
export {
  Group,
  type BroadcastOptions,
  type BroadcastReport,
  type GroupOptions,
  type MembershipWatcher,
  type SlowMemberPolicy,
} from "./group.js";
export type { PerMessageDeflateOptions } from "../deflate/index.js";
export type { BinaryData } from "../frame/buffer-view.js";
