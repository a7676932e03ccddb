// iotbuf on AWS: the same processes as docker-compose, with ElastiCache (Valkey, cluster mode) as
// the buffer, brokers as a Fargate service behind an NLB, workers as a scheduled Fargate task that
// drains to S3 (NDJSON.gz or Parquet with a Glue table for Athena), Timestream (or Timestream
// for InfluxDB) and optionally OpenSearch, and alarms on what can lose data:
// queue depth and age, store memory and evictions.
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import * as elasticache from 'aws-cdk-lib/aws-elasticache'
import * as s3 from 'aws-cdk-lib/aws-s3'
import * as logs from 'aws-cdk-lib/aws-logs'
import * as secrets from 'aws-cdk-lib/aws-secretsmanager'
import * as timestream from 'aws-cdk-lib/aws-timestream'
import * as ecr from 'aws-cdk-lib/aws-ecr'
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling'
import { ScheduledFargateTask } from 'aws-cdk-lib/aws-ecs-patterns'
import type { Construct } from 'constructs'
import { accessStringOf, PIPELINE_USERS, type PipelineRole } from '../../shared/store-users.js'
import { addWorkerPolicy } from './iam.js'
import { addAlarms } from './alarms.js'
import { addIotBridge, type IotBridgeOptions } from './iot-bridge.js'
import { addReadingsTable, addSearchDomain, addSearchWriterPolicy, searchEnv, type MeasureType } from './analytics.js'

export interface IotbufStackProps extends StackProps {
  /** ECR repository and tag of the image built from the Dockerfile */
  imageRepository?: string
  imageTag?: string
  /** ElastiCache: node groups (shards), replicas per shard, node type */
  cacheShards?: number
  cacheReplicas?: number
  cacheNodeType?: string
  /** broker tasks behind the NLB; worker tasks per scheduled run */
  brokers?: number
  workers?: number
  /** worker schedule: ECS scheduled tasks run at most once a minute */
  drainEvery?: Duration
  /** sink to Timestream for InfluxDB instead of Timestream for LiveAnalytics */
  influx?: boolean
  /** ACM certificate: the NLB terminates MQTT over TLS on 8883; without it 8883 is passed through */
  certificateArn?: string
  s3Prefix?: string
  /** s3 sink objects: parquet adds a Glue table with partition projection for Athena */
  s3Format?: 'ndjson' | 'parquet'
  /** measure columns of the Glue table (measures differ per fleet) */
  measures?: Record<string, MeasureType>
  /** IOTBUF_SINK_OBJECT_BYTES of the workers ('0' = one object per batch) */
  objectBytes?: string
  /** an Amazon OpenSearch Service domain in the VPC, written by the workers with SigV4 */
  openSearch?: boolean
  /** AWS IoT Core thing, certificate (from your CSR) and policy for `iotbuf bridge` */
  iotBridge?: IotBridgeOptions
}

export class IotbufStack extends Stack {
  readonly bucket: s3.Bucket
  readonly cache: elasticache.CfnReplicationGroup

  constructor(scope: Construct, id: string, props: IotbufStackProps = {}) {
    super(scope, id, props)
    const prefix = props.s3Prefix ?? 'iotbuf'
    const shards = props.cacheShards ?? 3

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    })
    const appSg = new ec2.SecurityGroup(this, 'AppSg', { vpc, description: 'iotbuf brokers and workers' })
    const cacheSg = new ec2.SecurityGroup(this, 'CacheSg', { vpc, description: 'ElastiCache: only iotbuf tasks', allowAllOutbound: false })
    cacheSg.addIngressRule(appSg, ec2.Port.tcp(6379), 'iotbuf tasks to Valkey (TLS)')

    // --- the buffer: Valkey in cluster mode, multi-AZ, encrypted in transit and at rest, RBAC users:
    // the broker, the worker and the monitor each connect as their least-privilege user, with the
    // access strings `iotbuf store` gives the same users (shared/store-users.ts); the default user
    // is the operators' (iotbuf devices add, dlq) with the admin password.
    // ElastiCache passwords: 16-128 printable characters, no @ " /
    const password = (id: string, description: string) => new secrets.Secret(this, id, { description, generateSecretString: { passwordLength: 64, excludePunctuation: true } })
    const adminPassword = password('CacheAuthToken', 'ElastiCache password of the default (admin) user of the iotbuf buffer')
    // user and group ids are unique per account and region: prefixed with the stack's name
    const idPrefix = `iotbuf-${this.stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`
    const admin = new elasticache.CfnUser(this, 'CacheUserDefault', {
      userId: `${idPrefix}-default`, userName: 'default', engine: 'redis', accessString: 'on ~* &* +@all',
      passwords: [adminPassword.secretValue.unsafeUnwrap()], // a dynamic reference, resolved by CloudFormation
    })
    const roleUsers = (['broker', 'worker', 'cli'] as PipelineRole[]).map((role) => {
      const secret = password(`Cache${role[0].toUpperCase()}${role.slice(1)}Password`, `ElastiCache password of ${PIPELINE_USERS[role].user}`)
      const user = new elasticache.CfnUser(this, `CacheUser${role[0].toUpperCase()}${role.slice(1)}`, {
        userId: `${idPrefix}-${role}`, userName: PIPELINE_USERS[role].user, engine: 'redis', accessString: accessStringOf(role),
        passwords: [secret.secretValue.unsafeUnwrap()],
      })
      return { role, secret, user }
    })
    const userGroup = new elasticache.CfnUserGroup(this, 'CacheUsers', {
      userGroupId: idPrefix, engine: 'redis', userIds: [admin.ref, ...roleUsers.map((u) => u.user.ref)],
    })
    const secretOf = (role: PipelineRole) => roleUsers.find((u) => u.role === role)!.secret
    const subnets = new elasticache.CfnSubnetGroup(this, 'CacheSubnets', {
      description: 'iotbuf buffer', subnetIds: vpc.isolatedSubnets.map((s) => s.subnetId),
    })
    const params = new elasticache.CfnParameterGroup(this, 'CacheParams', {
      cacheParameterGroupFamily: 'valkey8', description: 'iotbuf: cluster mode, allkeys-lru',
      // the brokers keep queue data under the high-water mark; LRU evicts the latest-value cache
      properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'allkeys-lru' },
    })
    this.cache = new elasticache.CfnReplicationGroup(this, 'Cache', {
      replicationGroupDescription: 'iotbuf buffer',
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: props.cacheNodeType ?? 'cache.r7g.large',
      clusterMode: 'enabled',
      numNodeGroups: shards,
      replicasPerNodeGroup: props.cacheReplicas ?? 1,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      userGroupIds: [userGroup.ref],
      cacheParameterGroupName: params.ref,
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [cacheSg.securityGroupId],
      snapshotRetentionLimit: 1,
      autoMinorVersionUpgrade: true,
    })
    const storeUrl = `rediss+cluster://${this.cache.attrConfigurationEndPointAddress}:${this.cache.attrConfigurationEndPointPort}`

    // --- sinks
    this.bucket = new s3.Bucket(this, 'Readings', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: false, // object keys are a function of the batch: a retry overwrites itself
      lifecycleRules: [{
        prefix: `${prefix}/`,
        transitions: [
          { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
          { storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(90) },
        ],
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: RemovalPolicy.RETAIN,
    })

    const sinkEnv: Record<string, string> = { IOTBUF_S3_BUCKET: this.bucket.bucketName, IOTBUF_S3_PREFIX: prefix }
    let table: timestream.CfnTable | undefined
    if (props.influx) {
      const influxPassword = new secrets.Secret(this, 'InfluxPassword', { generateSecretString: { passwordLength: 32, excludePunctuation: true } })
      const influxSg = new ec2.SecurityGroup(this, 'InfluxSg', { vpc, description: 'Timestream for InfluxDB: only iotbuf workers', allowAllOutbound: false })
      influxSg.addIngressRule(appSg, ec2.Port.tcp(8086), 'iotbuf workers to InfluxDB')
      const influx = new timestream.CfnInfluxDBInstance(this, 'Influx', {
        name: 'iotbuf', dbInstanceType: 'db.influx.medium', allocatedStorage: 20, dbStorageType: 'InfluxIOIncludedT1',
        deploymentType: 'WITH_MULTIAZ_STANDBY', publiclyAccessible: false, bucket: 'iotbuf', organization: 'iotbuf',
        username: 'iotbuf', password: influxPassword.secretValue.unsafeUnwrap(),
        vpcSubnetIds: vpc.isolatedSubnets.map((s) => s.subnetId), vpcSecurityGroupIds: [influxSg.securityGroupId],
      })
      Object.assign(sinkEnv, { IOTBUF_SINKS: 's3,influx', IOTBUF_INFLUX_URL: `https://${influx.attrEndpoint}:8086`, IOTBUF_INFLUX_DB: 'iotbuf', IOTBUF_INFLUX_ORG: 'iotbuf' })
    } else {
      const db = new timestream.CfnDatabase(this, 'Tsdb', { databaseName: 'iotbuf' })
      table = new timestream.CfnTable(this, 'ReadingsTable', {
        databaseName: db.ref, tableName: 'readings',
        retentionProperties: { MemoryStoreRetentionPeriodInHours: '24', MagneticStoreRetentionPeriodInDays: '365' },
        magneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      })
      Object.assign(sinkEnv, { IOTBUF_SINKS: 's3,timestream', IOTBUF_TIMESTREAM_DATABASE: 'iotbuf', IOTBUF_TIMESTREAM_TABLE: 'readings', IOTBUF_TIMESTREAM_MEMORY_RETENTION: '24h' })
    }

    const s3Format = props.s3Format ?? 'ndjson'
    Object.assign(sinkEnv, { IOTBUF_S3_FORMAT: s3Format, IOTBUF_SINK_OBJECT_BYTES: props.objectBytes ?? '64mb' })
    if (s3Format === 'parquet') addReadingsTable(this, { bucket: this.bucket, prefix, shards: 64, measures: props.measures ?? {} })
    const search = props.openSearch ? addSearchDomain(this, { vpc, appSg }) : undefined
    if (search) Object.assign(sinkEnv, { IOTBUF_SINKS: `${sinkEnv.IOTBUF_SINKS},opensearch`, ...searchEnv(search) })

    // --- processes
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED })
    const repo = ecr.Repository.fromRepositoryName(this, 'Repo', props.imageRepository ?? 'iotbuf')
    const image = ecs.ContainerImage.fromEcrRepository(repo, props.imageTag ?? 'latest')
    const storeEnv = { IOTBUF_STORE_URL: storeUrl, IOTBUF_SHARDS: '64', IOTBUF_LOG_FORMAT: 'json' }
    // the broker's and worker's V8 flags (shared/process.ts nodeFlagsFor): fewer scavenges per message
    const serviceNodeOptions = { NODE_OPTIONS: '--max-semi-space-size=32' }
    // each process' own user (storeCredentials: the role's password set → connect as its user)
    const storeSecrets = (role: PipelineRole) => ({ [PIPELINE_USERS[role].env]: ecs.Secret.fromSecretsManager(secretOf(role)) })
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY })
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: prefix })

    const brokerTask = new ecs.FargateTaskDefinition(this, 'BrokerTask', { cpu: 1024, memoryLimitMiB: 2048 })
    brokerTask.addContainer('broker', {
      image, command: ['broker'], logging: logging('broker'),
      environment: { ...storeEnv, ...serviceNodeOptions, IOTBUF_MQTT_HOST: '0.0.0.0', IOTBUF_METRICS_HOST: '0.0.0.0', IOTBUF_MQTT_ANONYMOUS: 'false' },
      secrets: storeSecrets('broker'),
      portMappings: [{ containerPort: 1883 }, { containerPort: 8883 }, { containerPort: 9464 }],
      healthCheck: { command: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"], interval: Duration.seconds(15) },
    })
    const brokers = new ecs.FargateService(this, 'Brokers', {
      cluster, taskDefinition: brokerTask, desiredCount: props.brokers ?? 3, securityGroups: [appSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, circuitBreaker: { rollback: true },
    })
    brokers.autoScaleTaskCount({ minCapacity: props.brokers ?? 3, maxCapacity: 12 })
      .scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 })
    appSg.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(1883), 'NLB to brokers (MQTT)')
    appSg.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(8883), 'NLB to brokers (MQTT over TLS)')

    const nlb = new elbv2.NetworkLoadBalancer(this, 'Nlb', { vpc, internetFacing: true, crossZoneEnabled: true })
    const mqtt = nlb.addListener('Mqtt', { port: 1883, protocol: elbv2.Protocol.TCP })
    mqtt.addTargets('Brokers1883', { port: 1883, protocol: elbv2.Protocol.TCP, targets: [brokers.loadBalancerTarget({ containerName: 'broker', containerPort: 1883 })], deregistrationDelay: Duration.seconds(30) })
    const mqtts = props.certificateArn
      ? nlb.addListener('Mqtts', { port: 8883, protocol: elbv2.Protocol.TLS, certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)] })
      : nlb.addListener('Mqtts', { port: 8883, protocol: elbv2.Protocol.TCP })
    mqtts.addTargets('Brokers8883', {
      port: props.certificateArn ? 1883 : 8883, protocol: elbv2.Protocol.TCP, deregistrationDelay: Duration.seconds(30),
      targets: [brokers.loadBalancerTarget({ containerName: 'broker', containerPort: props.certificateArn ? 1883 : 8883 })],
    })

    // workers: `worker --once` on a schedule, each run drains until empty and exits
    const workerTask = new ecs.FargateTaskDefinition(this, 'WorkerTask', { cpu: 1024, memoryLimitMiB: 2048 })
    workerTask.addContainer('worker', {
      image, command: ['worker', '--once'], logging: logging('worker'),
      environment: { ...storeEnv, ...sinkEnv, ...serviceNodeOptions, IOTBUF_WORKER_METRICS_PORT: '0' }, secrets: storeSecrets('worker'),
    })
    new ScheduledFargateTask(this, 'Workers', {
      cluster, scheduledFargateTaskDefinitionOptions: { taskDefinition: workerTask },
      schedule: appscaling.Schedule.rate(props.drainEvery ?? Duration.minutes(1)),
      desiredTaskCount: props.workers ?? 2, securityGroups: [appSg], subnetSelection: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    })
    addWorkerPolicy(workerTask.taskRole, { bucket: this.bucket, prefix, table })
    if (search) addSearchWriterPolicy(workerTask.taskRole, search)

    // the monitor: `iotbuf status --watch --json`, one JSON line a minute, turned into metrics
    const monitorTask = new ecs.FargateTaskDefinition(this, 'MonitorTask', { cpu: 256, memoryLimitMiB: 512 })
    monitorTask.addContainer('monitor', {
      image, command: ['status', '--watch', '60s', '--json'], logging: logging('monitor'), environment: storeEnv, secrets: storeSecrets('cli'),
    })
    new ecs.FargateService(this, 'Monitor', {
      cluster, taskDefinition: monitorTask, desiredCount: 1, securityGroups: [appSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    })
    if (props.iotBridge) addIotBridge(this, props.iotBridge)
    addAlarms(this, { logGroup, replicationGroupId: this.cache.ref, shards, replicas: props.cacheReplicas ?? 1 })
  }
}
