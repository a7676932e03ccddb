// The AWS IoT Core side of `iotbuf bridge` (optional): a thing, its X.509 certificate from a CSR
// you made (the private key never leaves your machine, and so is not in the template), and a
// policy that lets the bridge connect as iotbuf-bridge-*, subscribe to the telemetry filters and
// their $share/<group>/ form, and receive the matching topics — nothing else (no publish).
import { Aws, CfnOutput } from 'aws-cdk-lib'
import * as iot from 'aws-cdk-lib/aws-iot'
import type { Construct } from 'constructs'

export interface IotBridgeOptions {
  /** PEM certificate signing request: `openssl req -new -newkey rsa:2048 -nodes -keyout bridge.key -subj /CN=iotbuf-bridge -out bridge.csr` */
  csrPem: string
  /** MQTT topic filters as the bridge subscribes to them (IOTBUF_BRIDGE_TOPICS with +id → +) */
  topicFilters?: string[]
  /** IOTBUF_BRIDGE_SHARE_GROUP, when several bridges share the stream */
  shareGroup?: string
}

/** An MQTT filter as an iot:Receive topic resource: the policy language's * stands for the MQTT wildcards. */
const receiveResource = (filter: string) => `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}:topic/${filter.split('/').map((l) => (l === '+' || l === '#' ? '*' : l)).join('/')}`
// in a topicfilter/ resource, + and # are literal characters: the policy allows exactly these filters
const filterResource = (filter: string) => `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}:topicfilter/${filter}`

export function addIotBridge(scope: Construct, o: IotBridgeOptions): { certificate: iot.CfnCertificate; policy: iot.CfnPolicy } {
  const filters = o.topicFilters ?? ['devices/+/telemetry']
  const subscribe = filters.flatMap((f) => (o.shareGroup ? [f, `$share/${o.shareGroup}/${f}`] : [f]))
  const policy = new iot.CfnPolicy(scope, 'BridgeIotPolicy', {
    policyName: 'iotbuf-bridge',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}:client/iotbuf-bridge-*` },
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: subscribe.map(filterResource) },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: filters.map(receiveResource) },
      ],
    },
  })
  const thing = new iot.CfnThing(scope, 'BridgeThing', { thingName: 'iotbuf-bridge' })
  const certificate = new iot.CfnCertificate(scope, 'BridgeCertificate', { certificateSigningRequest: o.csrPem, status: 'ACTIVE' })
  new iot.CfnPolicyPrincipalAttachment(scope, 'BridgePolicyAttachment', { policyName: policy.ref, principal: certificate.attrArn })
  new iot.CfnThingPrincipalAttachment(scope, 'BridgeThingAttachment', { thingName: thing.ref, principal: certificate.attrArn })
  new CfnOutput(scope, 'BridgeCertificateId', { value: certificate.ref, description: 'aws iot describe-certificate --certificate-id <this> --query certificateDescription.certificatePem --output text > bridge.pem (IOTBUF_BRIDGE_CERT)' })
  return { certificate, policy }
}
