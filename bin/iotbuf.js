#!/usr/bin/env node
// The CLI entry: loads the compiled program (npm install runs `prepare`, which builds dist/).
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'services', 'cli', 'main.js')
if (!existsSync(main)) {
  process.stderr.write('iotbuf: dist/ is missing; run `npm install` (or `npm run build`) first\n')
  process.exit(1)
}
const { runCli } = await import(main)
await runCli(process.argv)
