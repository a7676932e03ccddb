// One MQTT message → readings, with what MQTT 5 says about it: Content Type picks the decoder
// (JSON, SenML JSON, SenML CBOR), Payload Format Indicator 1 promises UTF-8, User Properties
// become tags, Message Expiry Interval is kept with each reading. The broker calls this, and so
// will the bridge: a message means the same whichever way it came in. Without properties (MQTT
// 3.1.1) it is parsePayload and nothing more.
import { isUtf8 } from 'node:buffer'
import { Decoder } from 'cbor-x'
import { NAME, parseDocument, parsePayload, type ParseOptions, type ParseResult } from './reading.js'
import { encodeFlatReading, type EncodedReading } from './reading-bytes.js'

/** The MQTT 5 PUBLISH properties that say something about the payload (mqtt-packet's names). */
export interface MessageProperties {
  contentType?: string
  payloadFormatIndicator?: boolean
  userProperties?: Record<string, string | string[]>
  messageExpiryInterval?: number
}

export const CONTENT_TYPES = ['application/json', 'application/senml+json', 'application/senml+cbor'] as const
/** User Properties beyond this many are refused: tags are dimensions downstream (Timestream allows 128 per record). */
export const MAX_PROPERTY_TAGS = 32
const TAG_VALUE_MAX = 256

// RFC 8428 §6, Table 4: SenML in CBOR uses integer labels for the field names
const SENML_CBOR_LABELS: Record<string, string> = {
  '-1': 'bver', '-2': 'bn', '-3': 'bt', '-4': 'bu', '-5': 'bv', '-6': 'bs',
  0: 'n', 1: 'u', 2: 'v', 3: 'vs', 4: 'vb', 5: 's', 6: 't', 7: 'ut', 8: 'vd',
}
// plain maps and arrays only: no cbor-x record extension (a device cannot define structures)
const cbor = new Decoder({ useRecords: false, mapsAsObjects: true })

function senmlFromCbor(payload: Buffer): unknown[] | string {
  let doc: unknown
  try {
    doc = cbor.decode(payload)
  } catch (err) {
    return `payload is not CBOR: ${(err as Error).message}`
  }
  if (!Array.isArray(doc)) return 'payload is not a SenML pack (a CBOR array of records), as its content type says'
  return doc.map((rec: unknown) => {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return rec
    const named: Record<string, unknown> = Object.create(null)
    for (const k of Object.keys(rec)) named[SENML_CBOR_LABELS[k] ?? k] = (rec as Record<string, unknown>)[k]
    return named
  })
}

/** Tags from User Properties; a string when one cannot be a tag (the message is then dead-lettered). */
function tagsFrom(props: Record<string, string | string[]>): Record<string, string> | string {
  const names = Object.keys(props)
  if (names.length > MAX_PROPERTY_TAGS) return `${names.length} user properties; at most ${MAX_PROPERTY_TAGS} become tags`
  const tags: Record<string, string> = {}
  for (const name of names) {
    const value = props[name]
    if (!NAME.test(name) || name === '__proto__') return `user property ${JSON.stringify(name)}: tag names are 1-128 of A-Z a-z 0-9 _ . : / -`
    if (typeof value !== 'string') return `user property ${JSON.stringify(name)} is sent more than once; a tag has one value`
    if (value.length > TAG_VALUE_MAX) return `user property ${JSON.stringify(name)}: tag values are at most ${TAG_VALUE_MAX} characters`
    tags[name] = value
  }
  return tags
}

/** Content types as devices send them, taken as they are: no split/trim/lower-casing per message. */
const BARE_TYPES: ReadonlySet<string | undefined> = new Set([undefined, '', ...CONTENT_TYPES])

function decode(deviceId: string, payload: Buffer, contentType: string | undefined, opts: ParseOptions): ParseResult {
  // parameters such as "; charset=utf-8" do not change the decoder
  const type = BARE_TYPES.has(contentType) ? contentType : contentType!.split(';')[0].trim().toLowerCase()
  switch (type) {
    case undefined: case '': case 'application/json': return parsePayload(deviceId, payload, opts)
    case 'application/senml+json': return parsePayload(deviceId, payload, opts, true)
    case 'application/senml+cbor': {
      const doc = senmlFromCbor(payload)
      return typeof doc === 'string' ? { ok: false, reason: doc } : parseDocument(deviceId, doc, opts, new Map(), true)
    }
    default: return { ok: false, reason: `content type ${JSON.stringify(contentType)} is not one iotbuf decodes (${CONTENT_TYPES.join(', ')})` }
  }
}

export function parseMessage(deviceId: string, payload: Buffer, props: MessageProperties | undefined, opts: ParseOptions): ParseResult {
  if (props === undefined) return parsePayload(deviceId, payload, opts)
  if (props.payloadFormatIndicator && !isUtf8(payload)) return { ok: false, reason: 'payload is not valid UTF-8, though its Payload Format Indicator says it is' }
  let tags: Record<string, string> | undefined
  if (props.userProperties) {
    const t = tagsFrom(props.userProperties)
    if (typeof t === 'string') return { ok: false, reason: t }
    tags = t
  }
  const r = decode(deviceId, payload, props.contentType, opts)
  if (!r.ok) return r
  const expiry = props.messageExpiryInterval
  if (!tags && expiry === undefined) return r
  for (const reading of r.readings) {
    // the payload's own tags are more specific than the message's
    if (tags) reading.tags = reading.tags ? { ...tags, ...reading.tags } : { ...tags }
    if (expiry !== undefined) reading.expiry = expiry
  }
  return r
}

/**
 * The hot path: a message whose properties change nothing in its reading (no tags, no expiry, a
 * plain JSON content type) with a flat-object payload, encoded straight to its queue entry
 * (reading-bytes.ts). null for anything else: parseMessage decides it, with the reasons.
 */
export function encodeMessage(deviceId: string, payload: Buffer, props: MessageProperties | undefined, opts: ParseOptions): EncodedReading | null {
  if (props !== undefined) {
    if (props.userProperties || props.messageExpiryInterval !== undefined) return null
    const type = props.contentType
    if (type !== undefined && type !== '' && type !== 'application/json') return null
  }
  // a Payload Format Indicator needs no check here: the fast path takes only ASCII payloads
  return encodeFlatReading(deviceId, payload, opts)
}
