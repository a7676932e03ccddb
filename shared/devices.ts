// The device registry: `iot:devices`, a hash of device id → JSON record. A device's token is
// shown once when it is added and only its scrypt hash (with a salt of its own) is kept, so a
// copy of the store does not hand out credentials. Revoking keeps the record (who existed, when
// it was revoked) and makes every later verification fail.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { StoreClient } from './store-client.js'
import { DEVICES } from './keys.js'
import { DEVICE_ID } from './reading.js'

export interface DeviceRecord {
  alg: 'scrypt'
  /** scrypt cost parameters, stored so they can be raised later without breaking old tokens */
  N: number
  r: number
  p: number
  salt: string
  hash: string
  createdAt: number
  revokedAt?: number
  /** free text from `iotbuf devices add --note` */
  note?: string
}

export interface DeviceInfo {
  deviceId: string
  createdAt: number
  revokedAt?: number
  note?: string
}

export type TokenCheck = { ok: true } | { ok: false; reason: 'unknown device' | 'revoked' | 'wrong token' }

// N=2^14, r=8 is the interactive-login cost of the scrypt paper (~30 ms here): expensive for a
// guesser, and the broker caches successful checks so reconnect storms do not pay it per device.
const COST = { N: 16384, r: 8, p: 1 }
const KEY_LEN = 32

function scryptAsync(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, KEY_LEN, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))))
}

export function assertDeviceId(deviceId: string): void {
  if (!DEVICE_ID.test(deviceId)) throw new Error(`device id ${JSON.stringify(deviceId)} is not allowed: use 1-128 of A-Z a-z 0-9 _ . : -`)
}

function parseRecord(deviceId: string, raw: string): DeviceRecord {
  try {
    return JSON.parse(raw) as DeviceRecord
  } catch {
    throw new Error(`registry entry of device ${JSON.stringify(deviceId)} in ${DEVICES} is not JSON; revoke and add the device again`)
  }
}

const infoOf = (deviceId: string, r: DeviceRecord): DeviceInfo => ({
  deviceId, createdAt: r.createdAt, ...(r.revokedAt ? { revokedAt: r.revokedAt } : {}), ...(r.note ? { note: r.note } : {}),
})

/** Registers a device and returns its token — the only time the token exists outside the device. */
export async function addDevice(redis: StoreClient, deviceId: string, opts: { note?: string; replace?: boolean } = {}): Promise<{ deviceId: string; token: string }> {
  assertDeviceId(deviceId)
  const token = randomBytes(24).toString('base64url')
  const salt = randomBytes(16)
  const hash = await scryptAsync(token, salt, COST)
  const record: DeviceRecord = { alg: 'scrypt', ...COST, salt: salt.toString('base64'), hash: hash.toString('base64'), createdAt: Date.now(), ...(opts.note ? { note: opts.note } : {}) }
  const json = JSON.stringify(record)
  if (opts.replace) {
    await redis.hset(DEVICES, deviceId, json)
  } else if (!(await redis.hsetnx(DEVICES, deviceId, json))) {
    throw new Error(`device ${JSON.stringify(deviceId)} already exists; use --replace to issue a new token (the old one stops working)`)
  }
  return { deviceId, token }
}

/** Marks the device revoked; returns false when there is no such device. */
export async function revokeDevice(redis: StoreClient, deviceId: string): Promise<boolean> {
  const raw = await redis.hget(DEVICES, deviceId)
  if (raw === null) return false
  const record = parseRecord(deviceId, raw)
  if (!record.revokedAt) record.revokedAt = Date.now()
  await redis.hset(DEVICES, deviceId, JSON.stringify(record))
  return true
}

export async function getDevice(redis: StoreClient, deviceId: string): Promise<DeviceInfo | null> {
  const raw = await redis.hget(DEVICES, deviceId)
  return raw === null ? null : infoOf(deviceId, parseRecord(deviceId, raw))
}

export async function listDevices(redis: StoreClient): Promise<DeviceInfo[]> {
  const all = await redis.hgetall(DEVICES)
  return Object.keys(all).sort().map((id) => infoOf(id, parseRecord(id, all[id])))
}

/** The stored record of a device, or null; what a caller needs to verify tokens itself (the broker's cache). */
export async function getDeviceRecord(redis: StoreClient, deviceId: string): Promise<DeviceRecord | null> {
  const raw = await redis.hget(DEVICES, deviceId)
  return raw === null ? null : parseRecord(deviceId, raw)
}

/** Checks a token against a record, in constant time with respect to the hash. */
export async function checkToken(record: DeviceRecord | null, token: string): Promise<TokenCheck> {
  if (!record) return { ok: false, reason: 'unknown device' }
  if (record.revokedAt) return { ok: false, reason: 'revoked' }
  const expected = Buffer.from(record.hash, 'base64')
  const got = await scryptAsync(token, Buffer.from(record.salt, 'base64'), { N: record.N, r: record.r, p: record.p })
  return got.length === expected.length && timingSafeEqual(got, expected) ? { ok: true } : { ok: false, reason: 'wrong token' }
}

export async function verifyToken(redis: StoreClient, deviceId: string, token: string): Promise<TokenCheck> {
  return checkToken(await getDeviceRecord(redis, deviceId), token)
}
