/**
 * `wsraw/redis`: groups and users shared between servers (processes, machines) through
 * Redis pub/sub. Needs the `redis` package (node-redis 5 or later), an optional peer
 * dependency; the rest of wsraw does not.
 */
export { RedisGroup, RedisGroups, type RedisClient, type RedisGroupsOptions } from "./redis-groups.js";
export { EnvelopeError } from "./envelope.js";
