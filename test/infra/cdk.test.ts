// The CDK app synthesized in-process (offline: an environment-agnostic stack, no lookups) and its
// template checked with aws-cdk-lib/assertions: the resources, encryption flags, least-privilege
// IAM and alarms. infra/ is loaded through vitest's TypeScript support, by a specifier tsc does not
// follow, so aws-cdk-lib stays out of the main build (infra has its own tsconfig: npm run synth).
import { beforeAll, describe, expect, it } from 'vitest'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
interface TemplateLike {
  toJSON(): Json
  resourceCountIs(type: string, n: number): void
  hasResourceProperties(type: string, props: unknown): void
  findResources(type: string, props?: unknown): Record<string, Json>
}
interface Assertions { Template: { fromStack(stack: unknown): TemplateLike }; Match: Record<string, (...a: unknown[]) => unknown> }

const STACK = '../../infra/lib/iotbuf-stack.ts'
const ASSERTIONS = 'aws-cdk-lib/assertions'
const CORE = 'aws-cdk-lib'

async function synth(props: Json = {}): Promise<{ t: TemplateLike; a: Assertions }> {
  const a = (await import(ASSERTIONS)) as Assertions
  const { App } = (await import(CORE)) as { App: new () => unknown }
  const { IotbufStack } = (await import(STACK)) as { IotbufStack: new (scope: unknown, id: string, props: Json) => unknown }
  return { t: a.Template.fromStack(new IotbufStack(new App(), 'Test', props)), a }
}

describe('infra: CDK stack', () => {
  let t: TemplateLike
  let M: Assertions['Match']
  beforeAll(async () => { const s = await synth(); t = s.t; M = s.a.Match }, 120_000)

  it('ElastiCache: Valkey cluster mode, multi-AZ, encrypted in transit and at rest, RBAC user group, allkeys-lru', () => {
    t.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1)
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey', ClusterMode: 'enabled', NumNodeGroups: 3, ReplicasPerNodeGroup: 1,
      AutomaticFailoverEnabled: true, MultiAZEnabled: true,
      TransitEncryptionEnabled: true, TransitEncryptionMode: 'required', AtRestEncryptionEnabled: true,
      UserGroupIds: [{ Ref: M.anyValue() }],
    })
    const rg = Object.values(t.findResources('AWS::ElastiCache::ReplicationGroup'))[0]
    /* RBAC and an AUTH token exclude each other on ElastiCache */
    expect(rg.Properties.AuthToken).toBeUndefined()
    t.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { Properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'allkeys-lru' } })
    t.resourceCountIs('AWS::EC2::VPC', 1)
  })

  it('ElastiCache RBAC: the user group has default (admin) and the pipeline users with the access strings `iotbuf store` gives them; each task gets its own password', async () => {
    const { PIPELINE_USERS, pipelineUserLines } = await import('../../shared/store-users.js')
    const users = t.findResources('AWS::ElastiCache::User')
    const byName = new Map(Object.entries(users).map(([id, u]) => [String(u.Properties.UserName), { id, p: u.Properties }]))
    expect([...byName.keys()].sort()).toEqual(['default', 'iotbuf-broker', 'iotbuf-cli', 'iotbuf-worker'])
    /* the access string is the `user` line iotbuf store makes, minus the user name and the >password */
    const lines = pipelineUserLines({ IOTBUF_STORE_BROKER_PASSWORD: 'pb', IOTBUF_STORE_WORKER_PASSWORD: 'pw', IOTBUF_STORE_CLI_PASSWORD: 'pc' })
    for (const [role, { user }] of Object.entries(PIPELINE_USERS)) {
      const line = lines.find((l) => l.startsWith(`${user} `))!
      expect(byName.get(user)!.p.AccessString, role).toBe(line.slice(user.length + 1).replace(/ >\S+$/, ''))
      expect(byName.get(user)!.p.AccessString).not.toMatch(/>|\breset\b/)
      expect(byName.get(user)!.p.Passwords).toHaveLength(1)
    }
    expect(byName.get('iotbuf-worker')!.p.AccessString).not.toMatch(/\+@write|\+@all/)
    const group = Object.values(t.findResources('AWS::ElastiCache::UserGroup'))
    expect(group).toHaveLength(1)
    expect(group[0].Properties.UserIds.map((r: Json) => r.Ref).sort()).toEqual([...byName.values()].map((u) => u.id).sort())
    /* broker, worker and monitor each have their role's password (a secret), and no admin password */
    const defs = Object.values(t.findResources('AWS::ECS::TaskDefinition')).flatMap((d) => d.Properties.ContainerDefinitions as Json[])
    const secretNames = (name: string) => (defs.find((c) => c.Name === name)!.Secrets as Json[]).map((x) => x.Name)
    expect(secretNames('broker')).toEqual(['IOTBUF_STORE_BROKER_PASSWORD'])
    expect(secretNames('worker')).toEqual(['IOTBUF_STORE_WORKER_PASSWORD'])
    expect(secretNames('monitor')).toEqual(['IOTBUF_STORE_CLI_PASSWORD'])
  })

  it('S3: encrypted, public access blocked, TLS only, lifecycle to Glacier', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: M.arrayWith([M.objectLike({ Transitions: M.arrayWith([M.objectLike({ StorageClass: 'GLACIER' })]) })]) },
    })
    t.hasResourceProperties('AWS::S3::BucketPolicy', { PolicyDocument: { Statement: M.arrayWith([M.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } })
  })

  it('Timestream: database and table with memory and magnetic retention', () => {
    t.resourceCountIs('AWS::Timestream::Database', 1)
    t.hasResourceProperties('AWS::Timestream::Table', { RetentionProperties: { MemoryStoreRetentionPeriodInHours: '24', MagneticStoreRetentionPeriodInDays: '365' } })
    t.resourceCountIs('AWS::Timestream::InfluxDBInstance', 0)
  })

  it('brokers: Fargate service behind an NLB on 1883 and 8883; workers: a scheduled task running worker --once', () => {
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1)
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' })
    for (const port of [1883, 8883]) t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: port })
    t.hasResourceProperties('AWS::ECS::Service', { LaunchType: 'FARGATE', DesiredCount: 3, LoadBalancers: M.arrayWith([M.objectLike({ ContainerPort: 1883 })]) })
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [M.objectLike({ Command: ['broker'], Environment: M.arrayWith([{ Name: 'IOTBUF_STORE_URL', Value: M.anyValue() }]), Secrets: [M.objectLike({ Name: 'IOTBUF_STORE_BROKER_PASSWORD' })] })] })
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [M.objectLike({ Command: ['worker', '--once'] })] })
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', Targets: [M.objectLike({ EcsParameters: M.objectLike({ TaskCount: 2, LaunchType: 'FARGATE' }) })] })
    // the store URL is cluster mode over TLS to the configuration endpoint
    const broker = Object.values(t.findResources('AWS::ECS::TaskDefinition')).find((r) => r.Properties.ContainerDefinitions[0].Command[0] === 'broker')!
    const url = broker.Properties.ContainerDefinitions[0].Environment.find((e: Json) => e.Name === 'IOTBUF_STORE_URL').Value
    expect(JSON.stringify(url)).toMatch(/rediss\+cluster:\/\/.*ConfigurationEndPoint\.Address/)
  })

  it('IAM: the worker may PutObject under its prefix and WriteRecords on its table, nothing broader', () => {
    const policies = Object.values(t.findResources('AWS::IAM::Policy'))
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
    const sink = statements.find((s) => s.Sid === 'SinkObjects')!
    expect(sink.Action).toEqual(['s3:PutObject', 's3:AbortMultipartUpload'])
    expect(JSON.stringify(sink.Resource)).toContain('/iotbuf/*')
    const records = statements.find((s) => s.Sid === 'SinkRecords')!
    expect(records.Action).toBe('timestream:WriteRecords')
    expect(records.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ReadingsTable/), 'Arn'] })
    // no wildcard actions, and "*" resources only for what has no resource-level permission
    for (const s of statements) {
      for (const a of [s.Action].flat()) expect(a, JSON.stringify(s)).not.toMatch(/\*$/)
      if (s.Resource === '*') expect([s.Action].flat().every((a: string) => /^(timestream:DescribeEndpoints|ecr:GetAuthorizationToken|logs:|ecs:RunTask|iam:PassRole)/.test(a)), JSON.stringify(s)).toBe(true)
      expect([s.Action].flat()).not.toContain('s3:GetObject')
      expect([s.Action].flat()).not.toContain('s3:DeleteObject')
    }
  })

  it('CloudWatch alarms on queue depth, oldest reading age, store memory and evictions', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
    const described = alarms.map((a) => String(a.Properties.AlarmDescription))
    for (const what of [/totals\.depth/, /oldestAgeMs/, /maxmemory/, /evicted/]) expect(described.some((d) => what.test(d)), String(what)).toBe(true)
    t.hasResourceProperties('AWS::Logs::MetricFilter', { MetricTransformations: [M.objectLike({ MetricName: 'QueueDepth', MetricValue: '$.totals.depth' })] })
    const memory = JSON.stringify(alarms.find((a) => /maxmemory/.test(a.Properties.AlarmDescription)))
    expect(memory).toContain('DatabaseMemoryUsagePercentage')
    expect(JSON.stringify(alarms.find((a) => /evicted/.test(a.Properties.AlarmDescription)))).toContain('"Evictions"')
  })

  it('the InfluxDB switch replaces Timestream for LiveAnalytics with Timestream for InfluxDB', async () => {
    const { t: ti } = await synth({ influx: true })
    ti.resourceCountIs('AWS::Timestream::Table', 0)
    ti.hasResourceProperties('AWS::Timestream::InfluxDBInstance', { PubliclyAccessible: false, DeploymentType: 'WITH_MULTIAZ_STANDBY' })
    ti.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [M.objectLike({ Environment: M.arrayWith([{ Name: 'IOTBUF_SINKS', Value: 's3,influx' }]) })] })
  }, 60_000)

  it('Parquet + OpenSearch: a Glue table with partition projection over the key layout, a VPC domain the worker may only POST _bulk and PUT its template to', async () => {
    const { t: tp } = await synth({ s3Format: 'parquet', openSearch: true, measures: { temperature: 'double', door: 'string' } })
    tp.resourceCountIs('AWS::Glue::Table', 1)
    const [table] = Object.values(tp.findResources('AWS::Glue::Table'))
    const input = table.Properties.TableInput
    expect(input.Parameters).toMatchObject({ 'projection.enabled': 'true', 'projection.dt.type': 'date', 'projection.dt.format': 'yyyy-MM-dd', 'projection.hh.digits': '2', 'projection.shard.range': '0,63' })
    expect(JSON.stringify(input.Parameters['storage.location.template'])).toContain('/iotbuf/dt=${dt}/hh=${hh}/shard=${shard}')
    expect(input.PartitionKeys.map((k: Json) => k.Name)).toEqual(['dt', 'hh', 'shard'])
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe')
    expect(input.StorageDescriptor.Columns).toEqual(expect.arrayContaining([{ Name: 'ts', Type: 'timestamp' }, { Name: 'temperature', Type: 'double' }, { Name: 'door', Type: 'string' }, { Name: 'tags', Type: 'map<string,string>' }]))
    tp.hasResourceProperties('AWS::OpenSearchService::Domain', {
      EncryptionAtRestOptions: { Enabled: true }, NodeToNodeEncryptionOptions: { Enabled: true }, DomainEndpointOptions: M.objectLike({ EnforceHTTPS: true }), VPCOptions: M.anyValue(),
    })
    tp.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [M.objectLike({ Environment: M.arrayWith([{ Name: 'IOTBUF_SINKS', Value: 's3,timestream,opensearch' }, { Name: 'IOTBUF_S3_FORMAT', Value: 'parquet' }, { Name: 'IOTBUF_OPENSEARCH_AUTH', Value: 'sigv4-es' }]) })] })
    const policies = JSON.stringify(tp.findResources('AWS::IAM::Policy'))
    expect(policies).toContain('es:ESHttpPost')
    expect(policies).toContain('/_bulk')
    expect(policies).toContain('/_index_template/iotbuf-readings')
    expect(policies).not.toMatch(/es:ESHttp(Get|Delete)|"es:\*"/)
  }, 120_000)

  it('iotBridge: a thing, a certificate from the CSR, and a policy to connect as iotbuf-bridge-*, subscribe to the filters (and $share forms) and receive them, nothing else', async () => {
    const { t: tb } = await synth({ iotBridge: { csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n', topicFilters: ['devices/+/telemetry', 'dt/+/#'], shareGroup: 'iotbuf' } })
    tb.resourceCountIs('AWS::IoT::Thing', 1)
    tb.hasResourceProperties('AWS::IoT::Certificate', { Status: 'ACTIVE', CertificateSigningRequest: M.stringLikeRegexp('BEGIN CERTIFICATE REQUEST') })
    tb.resourceCountIs('AWS::IoT::PolicyPrincipalAttachment', 1)
    tb.resourceCountIs('AWS::IoT::ThingPrincipalAttachment', 1)
    const [policy] = Object.values(tb.findResources('AWS::IoT::Policy'))
    const statements = policy.Properties.PolicyDocument.Statement as Json[]
    expect(statements.map((s) => s.Action)).toEqual(['iot:Connect', 'iot:Subscribe', 'iot:Receive'])
    const text = JSON.stringify(statements)
    for (const f of ['topicfilter/devices/+/telemetry', 'topicfilter/$share/iotbuf/devices/+/telemetry', 'topicfilter/dt/+/#', 'topicfilter/$share/iotbuf/dt/+/#', 'topic/devices/*/telemetry', 'topic/dt/*/*', 'client/iotbuf-bridge-*']) expect(text).toContain(f)
    expect(text).not.toMatch(/iot:Publish|"iot:\*"/)
    // without the option nothing of it is created
    t.resourceCountIs('AWS::IoT::Policy', 0)
  }, 60_000)
})
