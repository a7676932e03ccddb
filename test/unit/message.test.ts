// MQTT 5 properties → readings (shared/message.ts): the Content Type as devices send it picks the
// decoder directly; one with parameters or in other letter case picks the same decoder.
import { describe, expect, it } from 'vitest'
import { parseMessage } from '../../shared/message.js'
import { parsePayload } from '../../shared/reading.js'

const now = Date.UTC(2026, 10, 23, 12, 0, 0)
const opts = { now, maxFutureMs: 300_000 }
const json = Buffer.from('{"ts":1795000000,"temp":21.5}')
const senml = Buffer.from('[{"bn":"room.","bt":1795000000,"n":"temp","v":21.5}]')

describe('Content Type → decoder', () => {
  it('JSON: no content type, empty, bare and with parameters or capitals decode the same', () => {
    const expected = parsePayload('d1', json, opts)
    expect(expected.ok).toBe(true)
    for (const contentType of [undefined, '', 'application/json', 'application/json; charset=utf-8', 'Application/JSON', ' application/json ']) {
      expect(parseMessage('d1', json, { contentType }, opts), String(contentType)).toEqual(expected)
    }
  })
  it('SenML JSON: bare and with parameters decode the same, and hold the payload to SenML', () => {
    const expected = parsePayload('d1', senml, opts, true)
    expect(expected.ok).toBe(true)
    for (const contentType of ['application/senml+json', 'application/SenML+JSON;charset=utf-8']) {
      expect(parseMessage('d1', senml, { contentType }, opts), contentType).toEqual(expected)
      // a plain JSON reading is not a SenML pack: the content type chose the SenML decoder
      expect(parseMessage('d1', json, { contentType }, opts), contentType).toEqual({ ok: false, reason: 'payload is not a SenML pack (an array of records with n or bn), as its content type says' })
    }
  })
  it('an unknown content type is refused, named as the device sent it', () => {
    expect(parseMessage('d1', json, { contentType: 'Text/CSV; header=present' }, opts)).toEqual({
      ok: false, reason: 'content type "Text/CSV; header=present" is not one iotbuf decodes (application/json, application/senml+json, application/senml+cbor)',
    })
  })
  it('user properties and message expiry still reach every reading when a content type is set', () => {
    const r = parseMessage('d1', senml, { contentType: 'application/senml+json', userProperties: { site: 'a' }, messageExpiryInterval: 60 }, opts)
    if (!r.ok) throw new Error(r.reason)
    expect(r.readings.length).toBeGreaterThan(0)
    for (const reading of r.readings) {
      expect(reading.tags).toEqual({ site: 'a' })
      expect(reading.expiry).toBe(60)
    }
  })
})
