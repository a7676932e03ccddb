/*
 * The Redis version the store answers as (INFO, HELLO, RDB aux field, redis.REDIS_VERSION).
 * A leaf module with no imports: the command table, persistence and the Lua engine all
 * read it while the module graph is still being evaluated, whichever of them loads first.
 */
export const REDIS_VERSION = '7.0.15'
