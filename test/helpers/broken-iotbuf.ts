// `node dist/test/helpers/broken-iotbuf.js <iotbuf args>`: the ordinary CLI with the broken
// variants of TEST_BROKEN patched in (broken.ts). Started by the test harness only.
import { runCli } from '../../services/cli/main.js'
import { brokenVariants, installBroken } from './broken.js'

const variants = brokenVariants()
await installBroken(variants)
process.stderr.write(`[broken build: ${variants.join(', ')}]\n`)
await runCli(process.argv)
