// Top frames of a V8 .cpuprofile (from `npm run bench -- … --profile DIR`) by self time, and by
// file. Usage: node dist/bench/profile-top.js <file.cpuprofile> [N]
import { readFileSync } from 'node:fs'

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const file = process.argv[2]
const top = Number(process.argv[3] ?? 25)
if (!file) { process.stderr.write('usage: node dist/bench/profile-top.js <file.cpuprofile> [N]\n'); process.exit(2) }
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const short = (url: string) => url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'node_modules/').replace(/.*\/dist\//, 'dist/')
const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`
const byFn = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, us] of self) {
  const n = byId.get(id)!
  byFn.set(fnKey(n), (byFn.get(fnKey(n)) ?? 0) + us)
  const f = short(n.callFrame.url) || n.callFrame.functionName
  byFile.set(f, (byFile.get(f) ?? 0) + us)
}
const show = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n')
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by function:\n${show(byFn, top)}\n\nself time by file:\n${show(byFile, 15)}\n`)
