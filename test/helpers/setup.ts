// Runs in every vitest worker: tests that construct AWS SDK clients themselves (the S3 reader of
// the fault checker, the Timestream tests) run on the Node floor the project supports, as the CLI does.
import { acceptOurNodeFloor } from '../../shared/node-support.js'

acceptOurNodeFloor()
