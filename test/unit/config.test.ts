import { describe, expect, it } from 'vitest'
import { describeConfig, formatConfigErrors, parseConfig } from '../../shared/config.js'
import { parseBytes, parseDuration } from '../../shared/units.js'

describe('units', () => {
  it('parses redis.conf memory units', () => {
    expect(parseBytes('256mb')).toBe(256 * 1024 * 1024)
    expect(parseBytes('1gb')).toBe(1024 ** 3)
    expect(parseBytes('1k')).toBe(1000)
    expect(parseBytes('1kb')).toBe(1024)
    expect(parseBytes('100')).toBe(100)
    expect(parseBytes('12 parsecs')).toBeNull()
  })
  it('parses durations', () => {
    expect(parseDuration('5s')).toBe(5000)
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('300')).toBe(300_000)
    expect(parseDuration('5 minutes')).toBeNull()
    expect(parseDuration('5s3')).toBeNull()
  })
})

describe('config', () => {
  it('fills defaults with units applied', () => {
    const r = parseConfig({})
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.config.SHARDS).toBe(16)
    expect(r.config.DRAIN_INTERVAL).toBe(5000)
    expect(r.config.MAXMEMORY).toBe(256 * 1024 * 1024)
    expect(r.config.SINKS).toEqual(['file'])
    expect(r.config.STORE_URL).toBeUndefined()
    expect(r.config.HIGH_WATER).toBe(0.85)
  })
  it('names the variable, the value and what is allowed', () => {
    const r = parseConfig({ IOTBUF_SHARDS: 'many', IOTBUF_DRAIN_INTERVAL: 'soon', IOTBUF_SINKS: 'file,ftp', IOTBUF_HIGH_WATER: '1.5', IOTBUF_SHRADS: '4' })
    expect(r.ok).toBe(false)
    if (r.ok) return
    const text = formatConfigErrors(r.errors)
    expect(text).toContain('IOTBUF_SHARDS="many" is not allowed; expected an integer from 1 to 16384')
    expect(text).toContain('IOTBUF_DRAIN_INTERVAL="soon" is not allowed; expected a duration')
    expect(text).toContain('IOTBUF_SINKS="file,ftp" is not allowed; expected a comma list of file, s3, timestream, influx, opensearch')
    expect(text).toContain('IOTBUF_HIGH_WATER="1.5"')
    expect(text).toContain('IOTBUF_SHRADS="4" is not allowed; expected no such setting')
  })
  it('rejects out-of-range ports and unknown enum values', () => {
    const r = parseConfig({ IOTBUF_MQTT_PORT: '70000', IOTBUF_OVERFLOW: 'panic', IOTBUF_STORE_URL: 'http://x' })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors.map((e) => e.variable).sort()).toEqual(['IOTBUF_MQTT_PORT', 'IOTBUF_OVERFLOW', 'IOTBUF_STORE_URL'])
    expect(r.errors.find((e) => e.variable === 'IOTBUF_OVERFLOW')!.allowed).toBe('one of backpressure, reject, drop-oldest')
  })
  it('masks secrets, including passwords inside the store URL', () => {
    const rows = describeConfig({ IOTBUF_STORE_URL: 'redis://default:hunter2@cache:6379', IOTBUF_INFLUX_TOKEN: 'abcdefgh' })
    const byName = Object.fromEntries(rows.map((r) => [r.variable, r.value]))
    expect(byName.IOTBUF_STORE_URL).toBe('redis://default:****@cache:6379')
    expect(byName.IOTBUF_INFLUX_TOKEN).not.toContain('cdefgh')
    expect(JSON.stringify(rows)).not.toContain('hunter2')
  })
})
