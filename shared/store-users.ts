// Least privilege in the store: one ACL user per pipeline process, created by `iotbuf store` /
// `iotbuf start` when its password is set (IOTBUF_STORE_BROKER_PASSWORD ...), used by that process
// instead of the default user. The same rules make an ElastiCache RBAC user group (README).
//
// broker: writes the shard queues, dedup markers, writer markers, latest values, seen set, DLQ and
//   stats; reads the device registry (iot:devices) and nothing else of it.
// worker: reads, acknowledges and trims the queues (and their list-mode companions), holds shard
//   leases, writes the DLQ and the staged counters.
// cli:    `iotbuf status` reads; it writes nothing.
// None of them may run @dangerous commands (FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, SHUTDOWN,
// ACL ...) — only INFO, which ioredis' ready check and the memory high-water check need.

export type PipelineRole = 'broker' | 'worker' | 'cli'

const COMMON = ['on', 'resetchannels', '-@all', '+@connection', '+info']

export const PIPELINE_USERS: Record<PipelineRole, { user: string; env: string; rules: string[] }> = {
  broker: {
    user: 'iotbuf-broker',
    env: 'IOTBUF_STORE_BROKER_PASSWORD',
    rules: [...COMMON, '+@read', '+@write', '+@transaction', '-@dangerous', '+info',
      '~iot:{*}:q', '~iot:{*}:q:*', '~iot:{*}:dedup:*', '~iot:{*}:writer:*', '~iot:writer:*', '~iot:dev:*', '~iot:seen', '~iot:dlq', '~iot:stats',
      '%R~iot:devices', '%R~iot:{*}:groups'],
  },
  worker: {
    user: 'iotbuf-worker',
    env: 'IOTBUF_STORE_WORKER_PASSWORD',
    rules: [...COMMON, '+@read', '+@write', '+@transaction', '-@dangerous', '+info',
      '~iot:{*}:q', '~iot:{*}:q:*', '~iot:{*}:lease', '~iot:{*}:inflight:*', '~iot:{*}:groups', '~iot:{*}:owners:*', '~iot:dlq', '~iot:staged', '~iot:stats'],
  },
  cli: {
    user: 'iotbuf-cli',
    env: 'IOTBUF_STORE_CLI_PASSWORD',
    rules: [...COMMON, '+@read', '-@dangerous', '+info', '%R~iot:*'],
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
