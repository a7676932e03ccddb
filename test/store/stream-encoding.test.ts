// Stream entries are packed into node buffers with varint lengths: values of every length
// around the varint boundaries (127/128, 16383/16384 bytes), mixed field sets and deletions
// must read back exactly as redis-server returns them.
import { describe, it } from 'vitest'
import { comparedPair, type Script } from './compare.js'

const { same } = comparedPair()
const body = (n: number) => 'v'.repeat(n)

describe('stream node encoding', () => {
  it('values of every length across the one- and two-byte varint boundaries', async () => {
    const script: Script = []
    let id = 1
    for (let n = 0; n <= 300; n++) script.push(['XADD', 's', `1-${id++}`, 'r', body(n)])
    for (let n = 16370; n <= 16400; n++) script.push(['XADD', 's', `1-${id++}`, 'r', body(n)])
    script.push(['XLEN', 's'], ['XRANGE', 's', '-', '+'], ['XREVRANGE', 's', '+', '-', 'COUNT', '50'])
    await same(script)
  })

  it('entries whose field sets differ from the node master, with deletions between', async () => {
    const script: Script = []
    for (let i = 1; i <= 400; i++) {
      const fv = i % 3 === 0 ? ['a', body(i % 140), 'b', body(125 + (i % 5))] : ['r', body((i * 7) % 260)]
      script.push(['XADD', 'm', `2-${i}`, ...fv])
      if (i % 11 === 0) script.push(['XDEL', 'm', `2-${i - 5}`])
    }
    script.push(['XRANGE', 'm', '-', '+'], ['XTRIM', 'm', 'MINID', '2-200'], ['XRANGE', 'm', '2-190', '2-260'], ['XLEN', 'm'])
    await same(script)
  })
})
