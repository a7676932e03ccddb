// Least privilege for the worker: it writes objects under its prefix (multipart uploads included —
// they are authorised by s3:PutObject — and may abort its own), and records into its one table.
// Nothing else: no reads, no listing, no deletes. Timestream's SDK must discover its endpoint
// first, and DescribeEndpoints has no resource-level permission, so that one action is on "*".
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import type * as timestream from 'aws-cdk-lib/aws-timestream'

export function addWorkerPolicy(role: iam.IRole, o: { bucket: s3.IBucket; prefix: string; table?: timestream.CfnTable }): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'SinkObjects',
    actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
    resources: [o.bucket.arnForObjects(`${o.prefix}/*`)],
  }))
  if (!o.table) return
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'SinkRecords',
    actions: ['timestream:WriteRecords'],
    resources: [o.table.attrArn],
  }))
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'TimestreamEndpoint',
    actions: ['timestream:DescribeEndpoints'],
    resources: ['*'],
  }))
}
