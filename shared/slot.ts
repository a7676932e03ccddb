// Redis Cluster's key → slot: CRC16-CCITT (XMODEM) of the key, or of the text inside the first
// non-empty `{…}`, mod 16384 — the function of the cluster spec, so routing matches the server.
const CRC16 = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let c = i << 8
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
  CRC16[i] = c
}

/** `encoding`: utf8 for JavaScript strings, latin1 for the store's binary strings (one char per byte). */
export function keySlot(key: string, encoding: 'utf8' | 'latin1' = 'utf8'): number {
  let s = 0
  let e = key.length
  const open = key.indexOf('{')
  if (open >= 0) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) { s = open + 1; e = close }
  }
  const bytes = Buffer.from(key.slice(s, e), encoding)
  let crc = 0
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ bytes[i]) & 0xff]
  return crc & 16383
}
