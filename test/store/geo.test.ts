/*
 * GEO commands (geo.c) against redis-server 7.0 and the bundled store: the
 * same 52-bit geohash scores, coordinates, distances, ordering and error
 * replies, byte for byte, in RESP2 and RESP3.
 */

import { describe, expect, it } from 'vitest'
import { cmds, comparedPair, runBoth, type Script } from './compare.js'

const cmp = comparedPair()
const same = (...lines: string[]): Promise<void> => cmp.same(cmds(...lines))

const SICILY = 'GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2'

describe('GEOADD GEOPOS GEOHASH GEODIST', () => {
  it('scores, positions, hashes and distances', () =>
    same(SICILY, 'ZRANGE Sicily 0 -1 WITHSCORES', 'GEOPOS Sicily Palermo Catania nosuch', 'GEOHASH Sicily Palermo Catania nosuch',
      'GEODIST Sicily Palermo Catania', 'GEODIST Sicily Palermo Catania km', 'GEODIST Sicily Palermo Catania MI', 'GEODIST Sicily Palermo Catania ft',
      'GEODIST Sicily Palermo Palermo', 'GEODIST Sicily Palermo nosuch', 'GEODIST nokey a b', 'GEOPOS nokey a b', 'GEOHASH nokey a', 'GEOPOS Sicily',
      'GEOADD Sicily 13.361389 38.115556 Palermo', 'GEOADD Sicily CH 13.4 38.1 Palermo 1 1 new', 'GEOADD Sicily NX 0 0 Palermo 2 2 new2',
      'GEOADD Sicily XX 0 0 Palermo 3 3 new3', 'GEOADD Sicily XX CH NX 0 0 a', 'ZSCORE Sicily Palermo', 'EXISTS new3'))
  it('the edges of the map', () =>
    same('GEOADD g 180 85.05112878 ne -180 -85.05112878 sw 0 0 origin -0.0000001 0.0000001 tiny 179.9999999 -85.05 far', 'ZRANGE g 0 -1 WITHSCORES',
      'GEOPOS g ne sw origin tiny far', 'GEOHASH g ne sw origin tiny far', 'GEODIST g ne sw', 'GEODIST g origin tiny'))
  it('errors', () =>
    same('GEOADD g 181 0 m', 'GEOADD g 0 86 m', 'GEOADD g -180.5 -86 m', 'GEOADD g 1e300 0 m', 'GEOADD g inf 0 m', 'GEOADD g x 0 m', 'GEOADD g 0 x m',
      'GEOADD g 0 0', 'GEOADD g 0 0 m 1', 'GEOADD g NX XX 0 0 m', 'GEOADD g GT 0 0 m', 'GEOADD g 0 0 m 200 0 n', 'EXISTS g', 'GEODIST g a b c d',
      'GEOADD g 0 0 a 1 1 b', 'GEODIST g a b parsec', 'SET s x', 'GEOADD s 0 0 m', 'GEOPOS s a', 'GEOHASH s a', 'GEODIST s a b', 'GEOADD', 'GEODIST g a'))
})

describe('GEORADIUS GEORADIUSBYMEMBER GEOSEARCH', () => {
  const setup = 'GEOADD p 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.583333 37.316667 Agrigento 14.55 37.1 x 12.9 38.0 y'
  it('options: WITHDIST WITHHASH WITHCOORD COUNT ANY ASC DESC', () =>
    same(setup, 'GEORADIUS p 15 37 200 km', 'GEORADIUS p 15 37 200 km ASC', 'GEORADIUS p 15 37 200 km DESC WITHDIST',
      'GEORADIUS p 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC', 'GEORADIUS p 15 37 200 km COUNT 2', 'GEORADIUS p 15 37 200 km COUNT 2 DESC WITHDIST',
      'GEORADIUS p 15 37 200 km COUNT 1 ANY', 'GEORADIUS p 15 37 1 m', 'GEORADIUS_RO p 15 37 150 mi WITHDIST ASC', 'GEORADIUS p 15 37 0 km',
      'GEORADIUSBYMEMBER p Palermo 100 km WITHDIST ASC', 'GEORADIUSBYMEMBER_RO p Agrigento 90 km ASC WITHCOORD', 'GEORADIUSBYMEMBER p nosuch 100 km',
      'GEOSEARCH p FROMMEMBER Palermo BYRADIUS 200 km ASC WITHDIST', 'GEOSEARCH p FROMLONLAT 14 37.5 BYBOX 200 100 km ASC WITHDIST WITHCOORD',
      'GEOSEARCH p FROMLONLAT 14 37.5 BYBOX 400 400 km DESC COUNT 3', 'GEOSEARCH p FROMLONLAT 14 37.5 BYBOX 1 1 m', 'GEOSEARCH nokey FROMMEMBER a BYRADIUS 1 m',
      'GEORADIUS nokey 0 0 1 m', 'GEORADIUSBYMEMBER nokey a 1 m WITHDIST'))
  it('STORE STOREDIST GEOSEARCHSTORE', () =>
    same(setup, 'GEORADIUS p 15 37 200 km STORE d', 'ZRANGE d 0 -1 WITHSCORES', 'GEORADIUS p 15 37 200 km STOREDIST d2 COUNT 2', 'ZRANGE d2 0 -1 WITHSCORES',
      'GEORADIUSBYMEMBER p Palermo 100 km STORE d3', 'ZRANGE d3 0 -1 WITHSCORES', 'GEOSEARCHSTORE d4 p FROMLONLAT 14 37.5 BYRADIUS 300 km',
      'ZRANGE d4 0 -1 WITHSCORES', 'GEOSEARCHSTORE d5 p FROMMEMBER Catania BYBOX 300 300 mi STOREDIST DESC COUNT 2', 'ZRANGE d5 0 -1 WITHSCORES',
      'GEOSEARCHSTORE d4 p FROMLONLAT 0 0 BYRADIUS 1 m', 'EXISTS d4', 'GEORADIUS p 0 0 1 m STORE d', 'EXISTS d', 'GEOSEARCHSTORE d5 nokey FROMLONLAT 0 0 BYRADIUS 1 m',
      'EXISTS d5', 'SET str x', 'EXPIRE str 100', 'GEOSEARCHSTORE str p FROMLONLAT 14 37.5 BYRADIUS 300 km', 'TYPE str', 'TTL str'))
  it('errors', () =>
    same(setup, 'GEORADIUS p 200 37 1 km', 'GEORADIUS p 15 37 x km', 'GEORADIUS p 15 37 -1 km', 'GEORADIUS p 15 37 1 parsec', 'GEORADIUS p 15 37 1 km COUNT 0',
      'GEORADIUS p 15 37 1 km COUNT x', 'GEORADIUS p 15 37 1 km COUNT', 'GEORADIUS p 15 37 1 km ANY', 'GEORADIUS p 15 37 1 km STORE d WITHDIST',
      'GEORADIUS_RO p 15 37 1 km STORE d', 'GEORADIUS p 15 37 1 km FOO', 'GEORADIUSBYMEMBER p nosuch 1 km', 'GEORADIUSBYMEMBER p Palermo -1 km',
      'GEOSEARCH p BYRADIUS 1 km', 'geosearch p FROMLONLAT 1 1', 'GEOSEARCH p FROMLONLAT 1 1 FROMMEMBER Palermo BYRADIUS 1 km',
      'GEOSEARCH p FROMMEMBER Palermo BYRADIUS 1 km BYBOX 1 1 km', 'GEOSEARCH p FROMMEMBER nosuch BYRADIUS 1 km', 'GEOSEARCH p FROMMEMBER Palermo BYBOX -1 1 km',
      'GEOSEARCH p FROMMEMBER Palermo BYBOX x 1 km', 'GEOSEARCH p FROMMEMBER Palermo BYBOX 1 x km', 'GEOSEARCH p FROMMEMBER Palermo BYRADIUS 1 km STORE d',
      'GEOSEARCH p FROMMEMBER Palermo BYRADIUS 1 km STOREDIST', 'GEOSEARCHSTORE d p FROMMEMBER Palermo BYRADIUS 1 km WITHDIST', 'GEOSEARCH nokey BYRADIUS 1 km',
      'GEOSEARCH nokey FROMMEMBER a BYRADIUS 1 km COUNT 0', 'SET s x', 'GEOSEARCH s FROMMEMBER a BYRADIUS 1 km', 'GEORADIUS s 0 0 1 km'))

  it('random points: the same members, distances and order for circles and boxes', async () => {
    let seed = 42
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
    const script: Script = []
    const add: string[] = ['GEOADD', 'r']
    for (let i = 0; i < 400; i++) add.push(String(-10 + rnd() * 40), String(30 + rnd() * 25), `m${i}`)
    script.push(add)
    for (let q = 0; q < 30; q++) {
      const lon = String(-10 + rnd() * 40)
      const lat = String(30 + rnd() * 25)
      const km = String(Math.floor(50 + rnd() * 900))
      script.push(['GEORADIUS', 'r', lon, lat, km, 'km', 'WITHDIST', 'ASC'], ['GEOSEARCH', 'r', 'FROMLONLAT', lon, lat, 'BYBOX', km, String(Number(km) / 2), 'km', 'WITHDIST', 'WITHCOORD', 'DESC'],
        ['GEORADIUSBYMEMBER', 'r', `m${q}`, km, 'km', 'COUNT', '5', 'WITHHASH'])
    }
    await cmp.same(script)
  })
})

describe('search cells at the edges of the grid', () => {
  it('neighbours wrap around the antimeridian and stop at the poles; COUNT is read as string2ll', async () => {
    let seed = 7
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
    const add: string[] = ['GEOADD', 'e']
    for (let i = 0; i < 200; i++) {
      const lon = i % 2 ? 175 + rnd() * 5 : -180 + rnd() * 5
      const lat = i % 4 < 2 ? -20 + rnd() * 40 : (i % 8 < 4 ? 80 : -85) + rnd() * 5
      add.push(String(lon), String(lat), `m${i}`)
    }
    const script: Script = [add]
    for (let q = 0; q < 40; q++) {
      const lon = String(q % 2 ? 179.9 - rnd() : -179.9 + rnd())
      const lat = String(q % 3 === 0 ? 84.9 - rnd() : q % 3 === 1 ? -84.9 + rnd() : -10 + rnd() * 20)
      const km = String(Math.floor(10 + rnd() * 600))
      script.push(['GEOSEARCH', 'e', 'FROMLONLAT', lon, lat, 'BYRADIUS', km, 'km', 'WITHDIST', 'WITHHASH', 'ASC'],
        ['GEOSEARCH', 'e', 'FROMLONLAT', lon, lat, 'BYBOX', km, km, 'km', 'WITHCOORD', 'DESC', 'COUNT', '3'],
        ['GEOSEARCH', 'e', 'FROMMEMBER', `m${q}`, 'BYRADIUS', km, 'km', 'COUNT', '4', 'ANY'])
    }
    /* Dense points at high latitudes (cells much narrower in km east-west), radii and boxes around the cell sizes. */
    const dense: string[] = ['GEOADD', 'd']
    for (let i = 0; i < 3000; i++) dense.push(String(10 + rnd() * 20), String(58 + rnd() * 8), `d${i}`)
    script.push(dense)
    for (let q = 0; q < 120; q++) {
      const km = String(Math.floor(5 + rnd() * 300))
      script.push(['GEOSEARCH', 'd', 'FROMLONLAT', String(12 + rnd() * 16), String(59 + rnd() * 6.9), q % 2 ? 'BYRADIUS' : 'BYBOX', km, ...(q % 2 ? [] : [km]), 'km', 'ASC'])
    }
    for (const n of ['1', '10', '0', '-5', '12x', '1\u0000', '007', '-0', '+3', '3.0', '1e2', ' 3', '9223372036854775807', '9223372036854775808', '-9223372036854775808', '123456789012345', '1234567890123456'])
      script.push(['GEOSEARCH', 'e', 'FROMLONLAT', '179', '0', 'BYRADIUS', '20000', 'km', 'COUNT', n])
    await cmp.same(script)
  })
})

describe('members sharing a position', () => {
  it('runs of equal scores across leaves, inside and just outside the radius, options in any case', async () => {
    /* 150 members at each of 6 points (a run fills several leaves of the store's tree), around
     * (15, 37) at 50 km to 250 km; 200 km radius: the 199 km point is in, the 201 km one out */
    const points: [string, string][] = [['15', '37.45'], ['15', '38.79'], ['15', '38.81'], ['17.2', '37'], ['13', '38.5'], ['15.5', '37.1']]
    const script: Script = []
    points.forEach(([lon, lat], p) => {
      const add = ['GEOADD', 's']
      for (let i = 0; i < 150; i++) add.push(lon, lat, `p${p}-${String(i).padStart(3, '0')}`)
      script.push(add)
    })
    /* scores no GEOADD makes: below and at the grid's origin, and beyond its end */
    script.push(['ZADD', 's', '-1', 'neg', '0', 'zero', 'inf', 'far'], ['GEODIST', 's', 'p1-000', 'p2-000', 'km'])
    /* no sorted query here: members at one distance tie, and Redis leaves ties in qsort()'s order */
    for (const q of ['GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km', 'GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST',
      'GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km COUNT 10 ANY', 'GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km COUNT 200 ANY WITHCOORD',
      'GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km COUNT 400 ANY WITHHASH', 'GEOSEARCH s FROMLONLAT 15 37 BYBOX 420 400 km COUNT 300 ANY',
      'GEOSEARCH s FROMMEMBER p4-149 BYRADIUS 1 m', 'GEOSEARCH s FROMLONLAT -180 -85.05112878 BYRADIUS 10 km',
      'gEoSeArCh s fRoMlOnLaT 15 37 ByRaDiUs 200 Km wItHdIsT aNy cOuNt 3', 'GEOSEARCH s FROMLONLAT 15 37 BYBOX 1 1 MI aNy CoUnT 1', 'GEORADIUS s 15 37 120 MI COUNT 151 ANY',
      'GEORADIUS s 15 37 200 km STORE d', 'ZCARD d', 'GEOSEARCHSTORE d2 s FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST COUNT 160 ANY', 'ZRANGE d2 0 -1 WITHSCORES',
      'GEOADD t 15 37.45 a 15 38.79 b 13 38.5 c 15 38.81 d', 'geosearch t fromlonlat 15 37 byradius 200 KM dEsC wItHcOoRd', 'GEORADIUS t 15 37 200 kM aSc CoUnT 2 WiThDiSt'])
      script.push(cmds(q)[0])
    await cmp.same(script)
  })
})

describe('RESP3', () => {
  it('coordinates are doubles, missing members nulls', async () => {
    const { redis, store } = await runBoth(cmp.pair, cmds('HELLO 3', SICILY, 'GEOPOS Sicily Palermo nosuch', 'GEODIST Sicily Palermo nosuch', 'GEODIST nokey a b',
      'GEOHASH Sicily nosuch Catania', 'GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 300 km WITHCOORD WITHDIST WITHHASH ASC'))
    expect(store.slice(1)).toEqual(redis.slice(1))
  })
})
