/*
 * The coordinated failover of FAILOVER [TO host port [FORCE]] [TIMEOUT ms] (replication.c's
 * failoverCommand / updateFailoverStatus / abortFailover): the master pauses writes, waits until a
 * replica (the named one, or any) has acknowledged its whole stream, then becomes a replica of it
 * with PSYNC … FAILOVER, which makes the target a master that continues the same history.
 */

import type { StoreServer } from './server.js'
import type { Replication, ReplicaLink } from './replication.js'

const NO_FAILOVER = 'no-failover'
const WAIT_FOR_SYNC = 'waiting-for-sync'
const IN_PROGRESS = 'failover-in-progress'
type FailoverState = typeof NO_FAILOVER | typeof WAIT_FOR_SYNC | typeof IN_PROGRESS

export class Failover {
  /** server.failover_state, as INFO's master_failover_state names it */
  state: FailoverState = NO_FAILOVER
  private targetHost: string | null = null
  private targetPort = 0
  private endTime = 0
  private force = false

  constructor(private readonly server: StoreServer, private readonly repl: Replication) {}

  get active(): boolean {
    return this.state !== NO_FAILOVER
  }

  /** The PSYNC of the link to the target carries FAILOVER. */
  get inProgress(): boolean {
    return this.state === IN_PROGRESS
  }

  /** Starts waiting for the target (null: any replica) to catch up; writes are paused meanwhile. */
  start(target: { host: string; port: number } | null, timeoutMs: number, force: boolean): void {
    if (target !== null) {
      this.targetHost = target.host
      this.targetPort = target.port
      this.server.log(`FAILOVER requested to ${target.host}:${target.port}.`)
    } else {
      this.server.log('FAILOVER requested to any replica.')
    }
    if (timeoutMs) this.endTime = Date.now() + timeoutMs
    this.force = force
    this.state = WAIT_FOR_SYNC
    this.server.setFailoverPause(true)
  }

  /** updateFailoverStatus(): from beforeSleep and the replication cron. */
  update(): void {
    if (this.state !== WAIT_FOR_SYNC) return
    if (this.endTime && this.endTime <= Date.now()) {
      if (this.force) {
        this.server.log(`FAILOVER to ${this.targetHost}:${this.targetPort} time out exceeded, failing over.`)
        this.state = IN_PROGRESS
        this.repl.setMaster(this.targetHost!, this.targetPort)
      } else {
        this.abort('Replica never caught up before timeout')
      }
      return
    }
    const offset = this.repl.masterReplOffset
    let replica: ReplicaLink | undefined
    if (this.targetHost !== null) {
      replica = this.repl.findReplica(this.targetHost, this.targetPort)
    } else {
      replica = this.repl.replicas.find((r) => r.ackOff === offset)
      if (replica !== undefined) {
        this.targetHost = this.repl.replicaIp(replica)
        this.targetPort = replica.listeningPort
      }
    }
    if (replica !== undefined && replica.ackOff === offset) {
      this.state = IN_PROGRESS
      this.server.log(`Failover target ${this.targetHost}:${this.targetPort} is synced, failing over.`)
      this.repl.setMaster(this.targetHost!, this.targetPort)
    }
  }

  /** The target answered our PSYNC … FAILOVER: done when it continued or began a full sync. */
  psyncAnswered(accepted: boolean): void {
    if (this.state !== IN_PROGRESS) return
    if (accepted) this.clear()
    else this.abort('Failover target rejected psync request')
  }

  /** abortFailover(): a failover that had already made us a replica makes us a master again. */
  abort(why: string): void {
    if (this.state === NO_FAILOVER) return
    if (this.targetHost !== null) this.server.log(`FAILOVER to ${this.targetHost}:${this.targetPort} aborted: ${why}`)
    else this.server.log(`FAILOVER to any replica aborted: ${why}`)
    if (this.state === IN_PROGRESS) this.repl.unsetMaster()
    this.clear()
  }

  /** clearFailoverState(): also ends the pause. */
  private clear(): void {
    this.endTime = 0
    this.force = false
    this.targetHost = null
    this.targetPort = 0
    this.state = NO_FAILOVER
    this.server.setFailoverPause(false)
  }
}
