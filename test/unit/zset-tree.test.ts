/*
 * The sorted-set tree keeps its descent path in module scratch space (no garbage per command).
 * That space must not keep a set alive once the set is gone: after DEL of a 1M-member GEO set,
 * a path or a leaf held there would keep every member reachable (a leaf reaches all others
 * through its prev/next links). Order and replies are tested against redis-server in
 * test/store/zset-tree.test.ts.
 */

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { ZTree } from '../../services/store/types/zset-tree.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** A tree of 20,000 members (three levels) that has been through every operation, and a weak reference to its first leaf. */
function usedTree(): WeakRef<object> {
  const t = new ZTree()
  for (let i = 0; i < 20_000; i++) t.insert(i % 7, `member:${i}`)
  for (let i = 0; i < 20_000; i += 3) t.delete(i % 7, `member:${i}`)
  t.delete(99, 'absent')
  t.updateScore(1, 'member:1', 5)
  t.updateScore(2, 'member:2', 2.5)
  t.getRank(4, 'member:4')
  t.getElementByRank(100)
  t.countInRange({ min: 1, max: 3, minex: false, maxex: true })
  t.firstInRange({ min: 2, max: 4, minex: true, maxex: false })
  t.lastInRange({ min: 2, max: 4, minex: false, maxex: false })
  t.countInLexRange({ min: 'member:2', max: '', minInf: 0, maxInf: 1, minex: false, maxex: false })
  t.insert(3, 'last one')
  expect(t.length).toBe(20_000 - Math.ceil(20_000 / 3) + 1)
  return new WeakRef((t as unknown as { head: object }).head)
}

describe('ZTree scratch space', () => {
  it('keeps no reference to a tree once the tree is dropped', async () => {
    const leaf = usedTree()
    /* a WeakRef's target lives at least until the end of the job that made it */
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    expect(leaf.deref()).toBeUndefined()
  })
})
