/*
 * The ACL state of a server: the users (default among them), authentication, the ACL log,
 * users from redis.conf `user` lines and the aclfile (ACL LOAD / SAVE). acl.c's global part.
 */

import { readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Client } from './networking.js'
import { CLIENT_CLOSE_AFTER_REPLY, CLIENT_MULTI, CLIENT_SCRIPT } from './networking.js'
import type { Command } from './commands/table.js'
import {
  AclCommands, AclRuleError, AclUser, ACL_ERR, hasSpaces, mergeSelectorArgs, SELECTOR_ALLCHANNELS, USER_DISABLED,
} from './acl.js'
import { ACL_DENIED_AUTH, ACL_DENIED_CHANNEL, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_OK, channelAllowed, checkCommandPerm, userIsUnrestricted } from './acl-check.js'
import { CLIENT_PUBSUB, type PubSub } from './pubsub.js'

export const ACL_LOG_CTX_TOPLEVEL = 0
export const ACL_LOG_CTX_LUA = 1
export const ACL_LOG_CTX_MULTI = 2
/* entries this close in time with the same reason, context, object and user are one */
const ACL_LOG_GROUPING_MAX_TIME_DELTA = 60000

export interface AclLogEntry {
  count: number
  reason: number
  context: number
  object: string
  username: string
  ctime: number
  cinfo: string
}

interface ServerLike {
  clients: Map<number, Client>
  config: Record<string, string | number>
  log: (msg: string) => void
  pubsub: PubSub
  /** the client whose script is running (a script client's log entries name it) */
  scriptCaller(): Client | null
}

/* processCommand()'s -NOPERM texts, and EXEC's reasons when the rules changed after queuing */
const NOPERM: Record<number, (cmd: Command) => string> = {
  [ACL_DENIED_CMD]: (cmd) => `-NOPERM this user has no permissions to run the '${cmd.fullname}' command`,
  [ACL_DENIED_KEY]: () => '-NOPERM this user has no permissions to access one of the keys used as arguments',
  [ACL_DENIED_CHANNEL]: () => '-NOPERM this user has no permissions to access one of the channels used as arguments',
}
const EXEC_REASON: Record<number, string> = {
  [ACL_DENIED_CMD]: 'no permission to execute the command or subcommand',
  [ACL_DENIED_KEY]: 'no permission to touch the specified keys',
  [ACL_DENIED_CHANNEL]: 'no permission to access one of the channels used as arguments',
}
/* getAclErrorMessage(): what a script's redis.call() is told */
const SCRIPT_REASON: Record<number, string> = {
  [ACL_DENIED_CMD]: "can't run this command or subcommand",
  [ACL_DENIED_KEY]: "can't access at least one of the keys mentioned in the command arguments",
  [ACL_DENIED_CHANNEL]: "can't publish to the channel mentioned in the command",
}

export class Acl {
  readonly cmds: AclCommands
  /** Kept sorted by name on output, as the rax is. */
  users = new Map<string, AclUser>()
  readonly defaultUser: AclUser
  log: AclLogEntry[] = []
  /** `user` lines of redis.conf, applied at start (ACLLoadConfiguredUsers). */
  readonly usersToLoad: string[][] = []

  constructor(
    table: Map<string, Command>,
    private readonly server: ServerLike,
  ) {
    this.cmds = new AclCommands(table)
    this.defaultUser = this.createDefaultUser()
    this.users.set('default', this.defaultUser)
  }

  /** acl-pubsub-default as selector flags. */
  readonly pubsubDefault = (): number => (this.server.config['acl-pubsub-default'] === 'allchannels' ? SELECTOR_ALLCHANNELS : 0)

  newUser(name: string): AclUser {
    return new AclUser(name, this.cmds, this.pubsubDefault)
  }

  private createDefaultUser(): AclUser {
    const u = this.newUser('default')
    for (const op of ['+@all', '~*', '&*', 'on', 'nopass']) u.apply(op)
    return u
  }

  getUser(name: string): AclUser | null {
    return this.users.get(name) ?? null
  }

  sortedUsers(): AclUser[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** ACLUpdateDefaultUserPassword(): requirepass sets (or, empty, removes) the default user's password. */
  setRequirepass(pass: string): void {
    this.defaultUser.apply('resetpass')
    this.defaultUser.apply(pass === '' ? 'nopass' : `>${pass}`)
  }

  /** authRequired(): the default user needs a password (or is off) and the client has not authenticated. */
  authRequired(c: Client): boolean {
    return !this.defaultUser.enabledWithoutPassword && !c.authenticated
  }

  /** ACLAuthenticateUser(): on success the client runs as the user; a failure is logged. */
  authenticate(c: Client, username: string, password: string): boolean {
    const u = this.getUser(username)
    if (u !== null && u.checkPassword(password)) {
      c.authenticated = true
      c.parser.authenticated = true
      c.user = u
      return true
    }
    this.addLogEntry(c, ACL_DENIED_AUTH, c.flags & CLIENT_MULTI ? ACL_LOG_CTX_MULTI : ACL_LOG_CTX_TOPLEVEL, 0, username, null)
    return false
  }

  /**
   * The ACL step of processCommand() ('command'), EXEC ('exec': the rules may have changed
   * since queuing) and scriptCall() ('script'): null when c's user may run c.cmd with c.argv,
   * else the error to reply; the refusal is logged.
   */
  denied(c: Client, where: 'command' | 'exec' | 'script'): string | null {
    if (userIsUnrestricted(c.user)) return null
    const [r, pos] = checkCommandPerm(c.user, c.cmd!, c.argv)
    if (r === ACL_OK) return null
    const context = where === 'script' ? ACL_LOG_CTX_LUA : where === 'exec' || c.flags & CLIENT_MULTI ? ACL_LOG_CTX_MULTI : ACL_LOG_CTX_TOPLEVEL
    this.addLogEntry(c, r, context, pos, null, null)
    if (where === 'script') return `The user executing the script ${SCRIPT_REASON[r] ?? 'is lacking the permissions for the command'}`
    if (where === 'command') return NOPERM[r]?.(c.cmd!) ?? 'no permission'
    return `-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: ${EXEC_REASON[r] ?? 'no permission'}`
  }

  /**
   * ACLStringSetUser(): every rule is applied to a copy first; on the first bad one nothing
   * changes and the error names it. Returns null on success.
   */
  setUser(name: string, rules: readonly string[]): string | null {
    const merged = mergeSelectorArgs(rules)
    if (!Array.isArray(merged)) return `Unmatched parenthesis in acl selector starting at '${rules[merged.unmatched]}'.`
    const existing = this.getUser(name)
    const temp = existing ? existing.clone() : this.newUser(name)
    for (const op of merged) {
      try {
        temp.apply(op)
      } catch (err) {
        if (err instanceof AclRuleError) return `Error in ACL SETUSER modifier '${op}': ${err.message}`
        throw err
      }
    }
    if (existing) {
      this.killPubsubClientsIfNeeded(temp, existing)
      existing.copyFrom(temp)
    } else this.users.set(name, temp)
    return null
  }

  /** ACLFreeUserAndKillClients(): the user's connections go (the asking one after its reply). */
  deleteUser(name: string, current: Client | null): boolean {
    const u = this.users.get(name)
    if (u === undefined) return false
    this.users.delete(name)
    this.dropClientsOf(u, current)
    return true
  }

  private dropClientsOf(u: AclUser, current: Client | null): void {
    for (const c of [...this.server.clients.values()]) {
      if (c.user !== u) continue
      c.user = this.defaultUser
      c.authenticated = false
      if (c === current) c.flags |= CLIENT_CLOSE_AFTER_REPLY
      else c.close()
    }
  }

  /**
   * ACLKillPubsubClientsIfNeeded(): subscribers of the user lose their connection when a
   * channel or pattern they hold is no longer allowed.
   */
  private killPubsubClientsIfNeeded(next: AclUser, original: AclUser): void {
    if (next.selectors.some((s) => s.flags & SELECTOR_ALLCHANNELS)) return
    const upcoming = next.selectors.flatMap((s) => s.channels)
    const superset = original.selectors.every((s) => !(s.flags & SELECTOR_ALLCHANNELS) && s.channels.every((ch) => upcoming.includes(ch)))
    if (superset) return
    const pubsub = this.server.pubsub
    for (const c of [...this.server.clients.values()]) {
      if (c.user !== original || (c.flags & CLIENT_PUBSUB) === 0) continue
      const bad =
        pubsub.clientPatterns(c).some((p) => !channelAllowed(upcoming, p, true)) ||
        pubsub.clientChannels(c).some((ch) => !channelAllowed(upcoming, ch, false)) ||
        pubsub.clientShardChannels(c).some((ch) => !channelAllowed(upcoming, ch, false))
      if (bad) c.close()
    }
  }

  /* ---------------------------------- log ---------------------------------- */

  /** addACLLogEntry(): a similar recent entry is bumped to the top instead of repeated. */
  addLogEntry(c: Client, reason: number, context: number, argpos: number, username: string | null, object: string | null): void {
    const real = (c.flags & CLIENT_SCRIPT ? this.server.scriptCaller() : null) ?? c
    const le: AclLogEntry = {
      count: 1,
      reason,
      context,
      object: object ?? (reason === ACL_DENIED_CMD ? c.cmd!.fullname : reason === ACL_DENIED_AUTH ? c.argv[0] : c.argv[argpos] ?? ''),
      username: username ?? c.user.name,
      ctime: Date.now(),
      cinfo: real.info(),
    }
    for (let i = 0; i < Math.min(10, this.log.length); i++) {
      const cur = this.log[i]
      if (cur.reason === le.reason && cur.context === le.context && Math.abs(cur.ctime - le.ctime) <= ACL_LOG_GROUPING_MAX_TIME_DELTA && cur.object === le.object && cur.username === le.username) {
        this.log.splice(i, 1)
        this.log.unshift(cur)
        cur.cinfo = le.cinfo
        cur.ctime = le.ctime
        cur.count++
        return
      }
    }
    this.log.unshift(le)
    const max = Number(this.server.config['acllog-max-len'])
    if (this.log.length > max) this.log.length = max
  }

  /* ------------------------------ files ------------------------------------ */

  /** ACLAppendUserForLoading(): a `user` line of redis.conf, checked now, applied at start. */
  appendUserForLoading(argv: readonly string[]): string | null {
    if (argv.length < 2) return 'Bad directive or wrong number of arguments'
    if (this.usersToLoad.some((u) => u[0] === argv[1])) return `Error in user declaration '${ACL_ERR.EALREADY}'`
    const merged = mergeSelectorArgs(argv.slice(2))
    if (!Array.isArray(merged)) return `Error in user declaration '${ACL_ERR.EINVAL}'`
    const fake = this.newUser(argv[1])
    for (const op of merged) {
      try {
        fake.apply(op)
      } catch (err) {
        if (err instanceof AclRuleError && err.errno !== 'ENOENT') return `Error in user declaration '${err.message}'`
      }
    }
    this.usersToLoad.push([argv[1], ...merged])
    return null
  }

  /** ACLLoadUsersAtStartup(): `user` lines, then the aclfile; returns the fatal error, if any. */
  loadUsersAtStartup(): string | null {
    const file = String(this.server.config.aclfile ?? '')
    if (file !== '' && this.usersToLoad.length !== 0) {
      return 'Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.'
    }
    for (const [name, ...rules] of this.usersToLoad) {
      if (hasSpaces(name)) return 'Spaces not allowed in ACL usernames'
      let u = this.getUser(name)
      if (u === null) {
        u = this.newUser(name)
        this.users.set(name, u)
      } else u.apply('reset')
      for (const r of rules) {
        try {
          u.apply(r)
        } catch (err) {
          return `Error loading ACL rule '${r}' for the user named '${name}': ${(err as Error).message}`
        }
      }
      if (u.flags & USER_DISABLED) this.server.log(`The user '${name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.`)
    }
    if (file !== '') {
      const errors = this.loadFromFile(file)
      if (errors !== null) return `Aborting Redis startup because of ACL errors: ${errors}`
    }
    return null
  }

  /**
   * ACLLoadFromFile(): all or nothing; the errors of every line, in one string, or null.
   * The default user object stays the same one (clients point at it) and takes the new rules.
   */
  loadFromFile(filename: string, current: Client | null = null): string | null {
    let text: string
    try {
      text = readFileSync(this.inDir(filename), 'latin1')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      return `Error loading ACLs, opening file '${filename}': ${e.code === 'ENOENT' ? 'No such file or directory' : e.message}`
    }
    const users = new Map<string, AclUser>()
    let errors = ''
    const lines = text.split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '')
      if (line === '') continue
      const argv = line.split(' ').filter((a) => a !== '')
      if (argv.length === 0) continue
      const linenum = i + 1
      if (argv[0] !== 'user' || argv.length < 2) {
        errors += `${filename}:${linenum} should start with user keyword followed by the username. `
        continue
      }
      if (hasSpaces(argv[1])) {
        errors += `'${filename}:${linenum}: username '${argv[1]}' contains invalid characters. `
        continue
      }
      if (users.has(argv[1])) {
        errors += `WARNING: Duplicate user '${argv[1]}' found on line ${linenum}. `
        continue
      }
      const u = this.newUser(argv[1])
      users.set(argv[1], u)
      const merged = mergeSelectorArgs(argv.slice(2))
      if (!Array.isArray(merged)) {
        errors += `${filename}:${linenum}: Unmatched parenthesis in selector definition.`
        continue
      }
      let syntaxError = false
      for (const raw of merged) {
        const op = raw.replace(/^[\t\r\n]+|[\t\r\n]+$/g, '')
        try {
          u.apply(op)
        } catch (err) {
          if (!(err instanceof AclRuleError)) throw err
          if (err.errno === 'ENOENT') errors += `${filename}:${linenum}: Error in applying operation '${op}': ${err.message}. `
          else if (!syntaxError) {
            errors += `${filename}:${linenum}: ${err.message}. `
            syntaxError = true
          }
        }
      }
    }
    if (errors !== '') return `${errors}WARNING: ACL errors detected, no change to the previously active ACL rules was performed`
    const newDefault = users.get('default') ?? this.createDefaultUser()
    this.defaultUser.copyFrom(newDefault)
    users.set('default', this.defaultUser)
    const old = this.users
    this.users = users
    /* users that are gone or replaced lose their connections (ACLFreeUsersSet) */
    for (const u of old.values()) if (u !== this.defaultUser) this.dropClientsOf(u, current)
    return null
  }

  /* Redis chdir()s into `dir` while reading its config; the store keeps the path instead */
  private inDir(file: string): string {
    return resolve(String(this.server.config.dir ?? '.'), file)
  }

  /** ACLSaveToFile(): the users as `user` lines, written to a temp file and renamed over. */
  saveToFile(filename: string): boolean {
    let text = ''
    for (const u of this.sortedUsers()) text += `user ${u.name} ${u.describe()}\n`
    const tmp = `${this.inDir(filename)}.tmp-${process.pid}-${Date.now()}`
    try {
      writeFileSync(tmp, text, 'latin1')
      renameSync(tmp, this.inDir(filename))
      return true
    } catch (err) {
      this.server.log(`Writing ACL file for ACL SAVE: ${(err as Error).message}`)
      try {
        unlinkSync(tmp)
      } catch {
        /* nothing was written */
      }
      return false
    }
  }
}
