// Least privilege in the store: one ACL user per pipeline process, created by `iotbuf store` /
// `iotbuf start` when its password is set (IOTBUF_STORE_BROKER_PASSWORD ...), used by that process
// instead of the default user. The same rules make an ElastiCache RBAC user group (README).
//
// broker: writes the shard queues, dedup markers, writer markers, latest values, seen set, DLQ and
//   stats; reads the device registry (iot:devices) and nothing else of it.
// worker: exactly the commands it runs, each on the keys it runs them on (root rules plus
//   Redis 7 selectors, one per key family): reads, acknowledges and trims the shard queues
//   (XREADGROUP, XACK, XAUTOCLAIM, XTRIM ...; LRANGE/LTRIM in list mode) but may not add to them
//   nor delete them; copies a list-mode queue into its sinks' copies and in-flight lists; holds the
//   shard leases; appends to the DLQ and counts in iot:stats / iot:staged. Nothing else.
// cli:    `iotbuf status` reads; it writes nothing.
// None of them may run @dangerous commands (FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, SHUTDOWN,
// ACL ...) — only INFO, which ioredis' ready check and the memory high-water check need, and
// CLUSTER SLOTS, which ioredis' cluster client asks (ElastiCache in cluster mode).

export type PipelineRole = 'broker' | 'worker' | 'cli'

const COMMON = ['on', 'resetchannels', '-@all', '+@connection']
/* after -@dangerous, which takes INFO away */
const ALSO = ['+info', '+cluster|slots']

export const PIPELINE_USERS: Record<PipelineRole, { user: string; env: string; rules: string[] }> = {
  broker: {
    user: 'iotbuf-broker',
    env: 'IOTBUF_STORE_BROKER_PASSWORD',
    rules: [...COMMON, '+@read', '+@write', '+@transaction', '-@dangerous', ...ALSO,
      '~iot:{*}:q', '~iot:{*}:q:*', '~iot:{*}:dedup:*', '~iot:{*}:writer:*', '~iot:writer:*', '~iot:dev:*', '~iot:seen', '~iot:dlq', '~iot:stats',
      '%R~iot:devices', '%R~iot:{*}:groups'],
  },
  worker: {
    user: 'iotbuf-worker',
    env: 'IOTBUF_STORE_WORKER_PASSWORD',
    rules: [...COMMON, ...ALSO, '+multi', '+exec', '+discard', '+unwatch',
      // the shard queues: read, acknowledge, trim — no XADD/RPUSH/DEL/SET on them
      '~iot:{*}:q', '+xgroup|create', '+xreadgroup', '+xautoclaim', '+xack', '+xpending', '+xinfo|groups', '+xlen', '+xrange', '+xtrim',
      '+lrange', '+llen', '+lindex', '+ltrim',
      // list mode: each sink's copy of the queue and the in-flight lists taken from it
      '(~iot:{*}:q:* ~iot:{*}:inflight:* +rpush +lmove +lrange +llen +lindex +ltrim +lrem)',
      '(~iot:{*}:groups ~iot:{*}:owners:* +sadd +srem +smembers)',
      '(~iot:{*}:lease +watch +get +set +pexpire +del)',
      '(~iot:dlq +xadd)',
      '(~iot:stats +hincrby)',
      '(~iot:staged +hset +hdel +hgetall)'],
  },
  cli: {
    user: 'iotbuf-cli',
    env: 'IOTBUF_STORE_CLI_PASSWORD',
    rules: [...COMMON, '+@read', '-@dangerous', ...ALSO, '%R~iot:*'],
  },
}

/** `user` lines (redis.conf form, without the keyword) for the roles whose password is set. */
export function pipelineUserLines(env: NodeJS.ProcessEnv): string[] {
  const lines: string[] = []
  for (const { user, env: name, rules } of Object.values(PIPELINE_USERS)) {
    const pass = env[name]
    if (pass) lines.push([user, ...rules, `>${pass}`].join(' '))
  }
  return lines
}

/** The credentials a process uses: its role's user when that password is set, else the default user's. */
export function storeCredentials(env: NodeJS.ProcessEnv, role: PipelineRole, defaultPassword?: string): { username?: string; password?: string } {
  const u = PIPELINE_USERS[role]
  const pass = env[u.env]
  return pass ? { username: u.user, password: pass } : { password: defaultPassword }
}

/**
 * The role's rules as an ElastiCache RBAC access string: the same text `iotbuf store` gives the
 * user, without the password (ElastiCache takes passwords separately and refuses them inline).
 */
export function accessStringOf(role: PipelineRole): string {
  return PIPELINE_USERS[role].rules.join(' ')
}
