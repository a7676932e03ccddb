/*
 * lolwut.c, lolwut5.c: LOLWUT [VERSION <n>] [args]. The default (and any version but 5 and 6) is
 * Redis 7.0's "unstable" reply, the version line alone. VERSION 5 draws Georg Nees' Schotter in
 * Braille characters as lolwut5.c does (random rotations, so no two replies are equal). VERSION 6
 * takes Redis' arguments and caption, but its Plaguemon landscape is not reproduced: it draws the
 * same Schotter canvas, cols wide and rows squares high.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { REDIS_VERSION } from '../version.js'

const f32 = Math.fround
/** C's round(): halves away from zero (Math.round takes -2.5 to -2). */
const cRound = (x: number): number => (x < 0 ? -Math.round(-x) : Math.round(x))

/** A 1-bit canvas (lwCanvas). */
class Canvas {
  readonly pixels: Uint8Array
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height)
  }

  set(x: number, y: number): void {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return
    this.pixels[x + y * this.width] = 1
  }

  get(x: number, y: number): number {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return 0
    return this.pixels[x + y * this.width]
  }

  /** lwDrawLine(): Bresenham. */
  line(x1: number, y1: number, x2: number, y2: number): void {
    const dx = Math.abs(x2 - x1)
    const dy = Math.abs(y2 - y1)
    const sx = x1 < x2 ? 1 : -1
    const sy = y1 < y2 ? 1 : -1
    let err = dx - dy
    for (;;) {
      this.set(x1, y1)
      if (x1 === x2 && y1 === y2) break
      const e2 = err * 2
      if (e2 > -dy) {
        err -= dy
        x1 += sx
      }
      if (e2 < dx) {
        err += dx
        y1 += sy
      }
    }
  }

  /** lwDrawSquare(): a square of side size centred on x,y, rotated by angle (C floats, so the same pixels). */
  square(x: number, y: number, size: number, angle: number): void {
    size = cRound(f32(size / 1.4142135623))
    const px: number[] = []
    const py: number[] = []
    let k = f32(Math.PI / 4 + angle)
    for (let j = 0; j < 4; j++) {
      px.push(cRound(Math.sin(k) * size + x))
      py.push(cRound(Math.cos(k) * size + y))
      k = f32(k + Math.PI / 2)
    }
    for (let j = 0; j < 4; j++) this.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4])
  }

  /** renderCanvas(): 2x4 pixels per Braille character (U+2800 + dot bits), UTF-8 bytes as a binary string. */
  render(): string {
    let text = ''
    for (let y = 0; y < this.height; y += 4) {
      for (let x = 0; x < this.width; x += 2) {
        const bits =
          this.get(x, y) | (this.get(x, y + 1) << 1) | (this.get(x, y + 2) << 2) | (this.get(x + 1, y) << 3) |
          (this.get(x + 1, y + 1) << 4) | (this.get(x + 1, y + 2) << 5) | (this.get(x, y + 3) << 6) | (this.get(x + 1, y + 3) << 7)
        text += String.fromCharCode(0x2800 + bits)
      }
      if (y !== this.height - 1) text += '\n'
    }
    return Buffer.from(text, 'utf8').toString('latin1')
  }
}

/** lwDrawSchotter(): squares that rotate and drift more the lower the row. */
function schotter(cols: number, perRow: number, perCol: number): Canvas {
  const width = cols * 2
  const padding = width > 4 ? 2 : 0
  const side = f32((width - padding * 2) / perRow)
  const canvas = new Canvas(width, Math.trunc(f32(f32(side * perCol) + padding * 2)))
  const jitter = (y: number): number => f32(f32(Math.random() / perCol) * y) * (Math.random() < 0.5 ? -1 : 1)
  for (let y = 0; y < perCol; y++) {
    for (let x = 0; x < perRow; x++) {
      let sx = Math.trunc(f32(f32(f32(x * side) + f32(side / 2)) + padding))
      let sy = Math.trunc(f32(f32(f32(y * side) + f32(side / 2)) + padding))
      let angle = 0
      if (y > 1) {
        angle = jitter(y)
        sx = Math.trunc(f32(sx + f32(f32(jitter(y) * side) / 3)))
        sy = Math.trunc(f32(sy + f32(f32(jitter(y) * side) / 3)))
      }
      canvas.square(sx, sy, side, angle)
    }
  }
  return canvas
}

/** getLongFromObjectOrReply() of the optional arguments, then clamped to [1, max] each. */
function numbers(c: Client, args: string[], defaults: number[], max: number[]): number[] | null {
  const out = defaults.slice()
  for (let i = 0; i < defaults.length && i < args.length; i++) {
    if (!/^-?\d+$/.test(args[i]) || !Number.isSafeInteger(Number(args[i]))) {
      c.addReplyError('value is not an integer or out of range')
      return null
    }
    out[i] = Math.min(Math.max(Number(args[i]), 1), max[i])
  }
  return out
}

function lolwutCommand(c: Client): void {
  let version = 0
  let args = c.argv.slice(1)
  if (c.argv.length >= 3 && c.argv[1].toLowerCase() === 'version') {
    if (!/^-?\d+$/.test(c.argv[2]) || !Number.isSafeInteger(Number(c.argv[2]))) return c.addReplyError('value is not an integer or out of range')
    version = Number(c.argv[2])
    args = c.argv.slice(3)
  }
  let rendered: string
  if (version === 5) {
    const n = numbers(c, args, [66, 8, 12], [1000, 200, 200])
    if (n === null) return
    rendered = `${schotter(n[0], n[1], n[2]).render()}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ${REDIS_VERSION}\n`
  } else if (version === 6) {
    const n = numbers(c, args, [80, 20], [1000, 1000])
    if (n === null) return
    rendered =
      `${schotter(n[0], 8, Math.min(n[1], 200)).render()}\nDedicated to the 8 bit game developers of past and present.\n` +
      `Original 8 bit image from Plaguemon by hikikomori. Redis ver. ${REDIS_VERSION}\n`
  } else {
    rendered = `Redis ver. ${REDIS_VERSION}\n`
  }
  c.addReplyVerbatim(rendered, 'txt')
}

export const lolwutCommands: CommandRow[] = [
  { name: 'lolwut', arity: -1, flags: ['readonly', 'fast'], firstKey: 0, lastKey: 0, step: 0, handler: lolwutCommand, group: 'server', summary: 'Display some computer art and the Redis version', since: '5.0.0' },
]
