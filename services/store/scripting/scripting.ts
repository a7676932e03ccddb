/*
 * The scripting subsystem of one server: the run context (script.c), the EVAL
 * script cache (eval.c) and the Functions libraries (functions.c), each with
 * its own Lua interpreter, created on first use.
 */

import type { StoreServer } from '../server.js'
import { ScriptRunner } from './run.js'
import { EvalScripts } from './eval.js'
import { Functions } from './functions.js'

export class Scripting {
  readonly runner: ScriptRunner
  readonly evals: EvalScripts
  readonly functions: Functions

  constructor(server: StoreServer) {
    this.runner = new ScriptRunner(server)
    this.evals = new EvalScripts(this.runner)
    this.functions = new Functions(this.runner)
  }

  /** A script is past busy-reply-threshold: other clients get -BUSY. */
  get busy(): boolean {
    return this.runner.busy
  }

  /** A script is running (suspended between slices while busy): blocked clients and expiry wait. */
  get running(): boolean {
    return this.runner.current !== null
  }
}
