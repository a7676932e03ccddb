// The iotbuf command line. Each subcommand loads only what it needs (a status call should not
// pay for aedes or the AWS SDK).
import { Command, Option } from 'commander'
import { createRequire } from 'node:module'
import { SETTINGS, describeConfig, loadConfigOrExit, type SinkName } from '../../shared/config.js'
import { parseDuration } from '../../shared/units.js'
import { acceptOurNodeFloor } from '../../shared/node-support.js'

export interface StatusFlags { json?: boolean; watch?: boolean | string; check?: boolean; maxDepth?: string; maxAge?: string; maxMemory?: string; url?: string }

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string }

function fatal(err: unknown): never {
  process.stderr.write(`iotbuf: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

export function buildProgram(): Command {
  const program = new Command('iotbuf')
    .description('IoT ingestion buffer: MQTT in, a Redis-compatible buffer, ordered batched drain to sinks')
    .version(pkg.version, '-v, --version')
    .showHelpAfterError()

  program.command('store')
    .description('run the bundled Redis-compatible store (flags as redis-server: --port 6379 --maxmemory 256mb --appendonly yes …)')
    .argument('[args...]', 'redis.conf-style file and/or --flags')
    .allowUnknownOption().helpOption(false)
    .action(async (args: string[]) => {
      const { runStore } = await import('../store/main.js')
      /* the pipeline's ACL users, when their passwords are set (shared/store-users.ts) */
      const { pipelineUserLines } = await import('../../shared/store-users.js')
      await runStore([...args, ...pipelineUserLines(process.env).flatMap((u) => ['--user', u])])
    })

  program.command('broker').description('run the MQTT broker that writes readings into the buffer')
    .action(async () => { const { runBroker } = await import('../broker/main.js'); await runBroker() })

  program.command('bridge').description('subscribe to an upstream MQTT broker (AWS IoT Core, Mosquitto, EMQX…) and buffer what it receives, acknowledging after the store confirmed')
    .action(async () => { const { runBridge } = await import('../bridge/main.js'); await runBridge() })

  program.command('worker').description('drain the buffer to the sinks, every interval (or once)')
    .option('--once', 'drain until empty and exit (cron, ECS scheduled tasks, Kubernetes CronJobs)')
    .option('--interval <duration>', 'time between passes, e.g. 5s (default IOTBUF_DRAIN_INTERVAL)')
    .option('--sink <list>', 'comma list of sinks (default IOTBUF_SINKS)')
    .action(async (o: { once?: boolean; interval?: string; sink?: string }) => {
      const intervalMs = o.interval === undefined ? undefined : parseDuration(o.interval)
      if (intervalMs === null) fatal(`--interval ${o.interval}: expected a duration such as 5s`)
      const { runWorker } = await import('../worker/main.js')
      await runWorker({ once: o.once, intervalMs, sinks: o.sink?.split(',').map((s) => s.trim()) as SinkName[] | undefined })
    })

  program.command('drain').description('drain the buffer once to the sinks with a progress bar and a summary (worker --once for people)')
    .option('--sink <list>', 'comma list of sinks (default IOTBUF_SINKS)')
    .option('--json', 'print the summary as JSON')
    .action(async (o: { sink?: string; json?: boolean }) => {
      const { runDrain } = await import('./drain.js')
      await runDrain({ json: o.json, sinks: o.sink?.split(',').map((s) => s.trim()) as SinkName[] | undefined })
    })

  program.command('start').description('run store, broker and worker together (what `npm start` does)')
    .action(async () => { const { runStart } = await import('./start.js'); await runStart() })

  program.command('status').description('queue depth per shard, pending, lag, oldest age, memory, dead letters')
    .option('--json', 'machine-readable output')
    .option('--watch [interval]', 'refresh every interval (default 2s), with in/out rates')
    .option('--check', 'one line and exit code 0 OK, 1 WARNING, 2 CRITICAL (Nagios-style)')
    .option('--max-depth <warn[,crit]>', 'with --check: queue depth limits (crit defaults to 2x warn)')
    .option('--max-age <warn[,crit]>', 'with --check: oldest reading age limits, e.g. 5m')
    .option('--max-memory <warn[,crit]>', 'with --check: used/max memory limits in %, e.g. 80%')
    .option('--url <url>', 'store URL (default IOTBUF_STORE_URL or the bundled store)')
    .addHelpText('after', '\nExit codes: 0 ok; 1 cannot connect (or WARNING with --check); 2 CRITICAL with --check or a bad option.')
    .action(async (o: StatusFlags) => { const { runStatus } = await import('./status-command.js'); await runStatus(o) })

  const dlq = program.command('dlq').description('dead letters: what was rejected, why, and putting it back')
  dlq.command('list').description('newest dead letters first')
    .option('--limit <n>', 'how many', '20').option('--reason <text>', 'only reasons containing text').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (o) => { const { dlqList } = await import('./dlq-command.js'); await dlqList(o) })
  dlq.command('show').description('one dead letter with its full payload').argument('<id>').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (id: string, o) => { const { dlqShow } = await import('./dlq-command.js'); await dlqShow(id, o) })
  dlq.command('replay').description('validate again and put back into the buffer (oldest first)').argument('[ids...]')
    .option('--all', 'every dead letter').option('--reason <text>', 'those whose reason contains text').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (ids: string[], o) => { const { dlqReplay } = await import('./dlq-command.js'); await dlqReplay(ids, o) })
  dlq.command('purge').description('delete dead letters (all, or older than a duration)')
    .option('--older-than <duration>', 'e.g. 7d').option('--yes', 'do not ask').option('--url <url>', 'store URL')
    .action(async (o) => { const { dlqPurge } = await import('./dlq-command.js'); await dlqPurge(o) })

  const devices = program.command('devices').description('device registry: tokens for MQTT auth, revocation, latest values')
  devices.command('add').description('register a device and print its token (once)').argument('<id>')
    .option('--note <text>', 'free text, e.g. where it is').option('--replace', 'issue a new token for an existing device').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (id: string, o) => { const { devicesAdd } = await import('./devices.js'); await devicesAdd(id, o) })
  devices.command('list').description('every device, its state and when it was last seen').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (o) => { const { devicesList } = await import('./devices.js'); await devicesList(o) })
  devices.command('show').description('one device').argument('<id>').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (id: string, o) => { const { devicesShow } = await import('./devices.js'); await devicesShow(id, o) })
  devices.command('revoke').description('refuse the device\'s token from now on').argument('<id>').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (id: string, o) => { const { devicesRevoke } = await import('./devices.js'); await devicesRevoke(id, o) })
  devices.command('latest').description('the device\'s newest reading (latest-value cache)').argument('<id>').option('--json', 'machine-readable output').option('--url <url>', 'store URL')
    .action(async (id: string, o) => { const { devicesLatest } = await import('./devices.js'); await devicesLatest(id, o) })

  program.command('config').description('print the effective configuration (secrets masked)')
    .addOption(new Option('--json', 'machine-readable output'))
    .addHelpText('after', '\nSettings:\n' + Object.entries(SETTINGS).map(([k, s]) => `  IOTBUF_${k.padEnd(22)} ${s.doc}${s.default !== undefined ? ` (default ${s.default})` : ''}`).join('\n'))
    .action((o: { json?: boolean }) => {
      loadConfigOrExit()
      const rows = describeConfig()
      if (o.json) { process.stdout.write(JSON.stringify(Object.fromEntries(rows.map((r) => [r.variable, r.value])), null, 2) + '\n'); return }
      const w = Math.max(...rows.map((r) => r.variable.length))
      for (const r of rows) process.stdout.write(`${r.variable.padEnd(w)}  ${(r.value || '(unset)').padEnd(24)}  ${r.source}\n`)
    })

  program.command('version').description('print the version').action(() => { process.stdout.write(`iotbuf ${pkg.version} (node ${process.version})\n`) })
  return program
}

/** `iotbuf config | head`: a reader that went away ends the command quietly, as it does a C tool. */
function exitQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
      throw err
    })
  }
}

/** Programming errors keep their stack (they are bugs to report); anything else is one line. */
const BUG = [TypeError, ReferenceError, RangeError, SyntaxError]

/** One line for a failed command: the store's refusal with the command it refused, or the message. */
function failureLine(commandPath: string, err: unknown): string | null {
  if (!(err instanceof Error)) return `iotbuf ${commandPath}: ${String(err)}`
  if (BUG.some((t) => err instanceof t)) return null
  const refused = (err as Error & { command?: { name?: string } }).command?.name
  if (err.name === 'ReplyError') return `iotbuf ${commandPath}: the store refused ${refused ? refused.toUpperCase() : 'a command'}: ${err.message}`
  return `iotbuf ${commandPath}: ${err.message}`
}

export async function runCli(argv: string[]): Promise<void> {
  acceptOurNodeFloor()
  exitQuietlyWhenOutputCloses()
  const program = buildProgram()
  let commandPath = ''
  program.hook('preAction', (_program, action) => {
    const names: string[] = []
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name())
    commandPath = names.join(' ')
  })
  try {
    await program.parseAsync(argv)
  } catch (err) {
    const line = failureLine(commandPath, err)
    if (line === null) throw err
    process.stderr.write(line + '\n')
    process.exit(1)
  }
}
