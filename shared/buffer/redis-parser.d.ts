// redis-parser 3 ships no types; the part of its API the enqueue batch's connection uses.
declare module 'redis-parser' {
  interface ParserOptions {
    returnReply(reply: unknown): void
    returnError(err: Error): void
    returnFatalError?(err: Error): void
    returnBuffers?: boolean
    stringNumbers?: boolean
  }
  export default class RedisParser {
    constructor(options: ParserOptions)
    execute(data: Buffer): void
    reset(): void
  }
}
