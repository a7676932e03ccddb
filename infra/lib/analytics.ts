// What reads the drained readings: a Glue table over the s3 sink's Parquet objects with partition
// projection (Athena computes the dt/hh/shard partitions from the key layout, so no crawler and
// no MSCK REPAIR), and an optional Amazon OpenSearch Service domain in the VPC that only the
// worker's role may write to (two paths: _bulk and the index template).
import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as glue from 'aws-cdk-lib/aws-glue'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import type { Construct } from 'constructs'

export type MeasureType = 'double' | 'string' | 'boolean'

/**
 * The Parquet schema the sink writes (services/worker/sinks/parquet.ts): fixed columns, then one
 * column per measure. Measures differ per fleet, so they are passed in; Athena reads a column a
 * file lacks as null.
 */
export function addReadingsTable(scope: Construct, o: { bucket: s3.IBucket; prefix: string; shards: number; measures: Record<string, MeasureType> }): glue.CfnTable {
  const db = new glue.CfnDatabase(scope, 'GlueDb', { catalogId: Aws.ACCOUNT_ID, databaseInput: { name: 'iotbuf', description: 'iotbuf readings drained to S3' } })
  const location = `s3://${o.bucket.bucketName}/${o.prefix}/`
  const table = new glue.CfnTable(scope, 'ReadingsGlueTable', {
    catalogId: Aws.ACCOUNT_ID,
    databaseName: 'iotbuf',
    tableInput: {
      name: 'readings',
      tableType: 'EXTERNAL_TABLE',
      parameters: {
        classification: 'parquet',
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
        'projection.dt.range': '2024-01-01,NOW',
        'projection.dt.interval': '1',
        'projection.dt.interval.unit': 'DAYS',
        'projection.hh.type': 'integer',
        'projection.hh.range': '0,23',
        'projection.hh.digits': '2',
        'projection.shard.type': 'integer',
        'projection.shard.range': `0,${o.shards - 1}`,
        'projection.shard.digits': '2',
        'storage.location.template': `${location}dt=\${dt}/hh=\${hh}/shard=\${shard}`,
      },
      partitionKeys: [{ name: 'dt', type: 'string' }, { name: 'hh', type: 'string' }, { name: 'shard', type: 'string' }],
      storageDescriptor: {
        location,
        inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
        serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        columns: [
          { name: 'deviceid', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'receivedat', type: 'timestamp' },
          ...Object.entries(o.measures).map(([name, type]) => ({ name: name.toLowerCase(), type })),
          { name: 'tags', type: 'map<string,string>' },
          { name: 'id', type: 'string' },
        ],
      },
    },
  })
  table.addDependency(db)
  return table
}

/** A VPC domain reachable from the iotbuf tasks only, encrypted, HTTPS-only, no open access policy. */
export function addSearchDomain(scope: Construct, o: { vpc: ec2.IVpc; appSg: ec2.ISecurityGroup }): opensearch.Domain {
  const sg = new ec2.SecurityGroup(scope, 'SearchSg', { vpc: o.vpc, description: 'OpenSearch: only iotbuf tasks', allowAllOutbound: false })
  sg.addIngressRule(o.appSg, ec2.Port.tcp(443), 'iotbuf workers to OpenSearch (HTTPS)')
  return new opensearch.Domain(scope, 'Search', {
    version: opensearch.EngineVersion.OPENSEARCH_2_17,
    vpc: o.vpc,
    vpcSubnets: [{ subnets: o.vpc.isolatedSubnets }],
    securityGroups: [sg],
    zoneAwareness: { enabled: true, availabilityZoneCount: 2 },
    capacity: { dataNodes: 2, dataNodeInstanceType: 'r7g.large.search', multiAzWithStandbyEnabled: false },
    ebs: { volumeSize: 100, volumeType: ec2.EbsDeviceVolumeType.GP3 },
    encryptionAtRest: { enabled: true },
    nodeToNodeEncryption: true,
    enforceHttps: true,
    tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
    removalPolicy: RemovalPolicy.RETAIN,
  })
}

/** The worker may POST _bulk and PUT/POST its index template; it cannot read, search or delete. */
export function addSearchWriterPolicy(role: iam.IRole, domain: opensearch.IDomain): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'SinkSearch',
    actions: ['es:ESHttpPost', 'es:ESHttpPut'],
    resources: [`${domain.domainArn}/_bulk`, `${domain.domainArn}/_index_template/iotbuf-readings`],
  }))
}

export const searchEnv = (domain: opensearch.IDomain) => ({
  IOTBUF_OPENSEARCH_URL: `https://${domain.domainEndpoint}`, IOTBUF_OPENSEARCH_AUTH: 'sigv4-es', AWS_REGION: Stack.of(domain).region,
})
