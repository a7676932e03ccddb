// `npm run synth`: the CloudFormation template, offline. The stack is environment-agnostic (no
// account or region, no lookups), so synth never calls AWS; deploy with `cdk deploy --app
// "node infra/dist/bin/app.js"`. Settings come from CDK context (-c iotbuf:influx=true …).
import { App } from 'aws-cdk-lib'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { IotbufStack } from '../lib/iotbuf-stack.js'

// compiled to infra/dist/infra/bin/ (rootDir is the project: the stack imports shared/store-users.ts)
const outdir = fileURLToPath(new URL('../../../cdk.out', import.meta.url))
const app = new App({ outdir })
const ctx = (k: string): string | undefined => app.node.tryGetContext(`iotbuf:${k}`)
new IotbufStack(app, 'Iotbuf', {
  influx: ctx('influx') === 'true',
  cacheShards: ctx('cacheShards') ? Number(ctx('cacheShards')) : undefined,
  cacheNodeType: ctx('cacheNodeType'),
  brokers: ctx('brokers') ? Number(ctx('brokers')) : undefined,
  workers: ctx('workers') ? Number(ctx('workers')) : undefined,
  imageTag: ctx('imageTag'),
  certificateArn: ctx('certificateArn'),
  s3Format: ctx('s3Format') === 'parquet' ? 'parquet' : undefined,
  // -c iotbuf:measures=temperature:double,door:string,ok:boolean
  measures: ctx('measures') ? Object.fromEntries(ctx('measures')!.split(',').map((m) => m.split(':') as [string, 'double' | 'string' | 'boolean'])) : undefined,
  objectBytes: ctx('objectBytes'),
  openSearch: ctx('openSearch') === 'true',
  // -c iotbuf:bridgeCsr=bridge.csr [-c iotbuf:bridgeTopics=devices/+/telemetry,dt/+/#] [-c iotbuf:bridgeShareGroup=iotbuf]
  iotBridge: ctx('bridgeCsr') ? { csrPem: readFileSync(ctx('bridgeCsr')!, 'utf8'), topicFilters: ctx('bridgeTopics')?.split(','), shareGroup: ctx('bridgeShareGroup') } : undefined,
})
const assembly = app.synth()
process.stdout.write(`synthesized ${assembly.stacks.map((s) => s.stackName).join(', ')} into ${assembly.directory}\n`)
