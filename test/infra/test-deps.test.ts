// scripts/test-deps.sh, the one place that sets up the system packages the suite needs: `npm test`
// runs it first, .ci/run reuses it. Run for real: on this machine (everything present) it is silent;
// as a user who cannot install (not root, no sudo) on a PATH without the tools it names every
// missing Debian package in one line and fails.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const script = join(root, 'scripts', 'test-deps.sh')
const which = (cmd: string) => spawnSync('bash', ['-c', `command -v ${cmd}`]).stdout.toString().trim()

describe('scripts/test-deps.sh', () => {
  it('with every package present it installs nothing and says nothing', () => {
    const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 30_000 })
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', ''])
  })

  it('a user who cannot install gets one line naming the missing packages, and exit 1', () => {
    // a PATH with a shell and nothing the tests need; mosquitto is still found in /usr/sbin, where
    // Debian puts it, and the python3-* modules in Debian's /usr/bin/python3
    const bin = mkdtempSync(join(tmpdir(), 'iotbuf-bare-path-'))
    try {
      chmodSync(bin, 0o755)
      for (const t of ['bash', 'env']) symlinkSync(which(t), join(bin, t))
      const asNobody = process.getuid?.() === 0 ? [which('setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups'] : []
      const r = spawnSync(asNobody[0] ?? 'bash', [...asNobody.slice(1), ...(asNobody.length ? ['bash'] : []), script], { encoding: 'utf8', timeout: 30_000, env: { PATH: bin } })
      const missing = 'redis-server redis-tools redis-sentinel mosquitto-clients influxdb tmux tcl'
      expect(r.status).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(`test-deps: the tests need the Debian packages ${missing}; install them (sudo apt-get install ${missing}) or run npm test as root\n`)
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it('is what npm test runs first and what .ci/run uses, with no package list of its own', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.test).toMatch(/^bash scripts\/test-deps\.sh && /)
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
    expect(ci).toMatch(/^bash scripts\/test-deps\.sh\b/m)
    expect(ci).not.toMatch(/apt-get|need\+=/)
    expect(ci.indexOf('test-deps.sh')).toBeLessThan(ci.indexOf('npm test'))
  })
})
