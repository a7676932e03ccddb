/*
 * GEO commands (geo.c): rows for the handlers in ../geo.ts.
 */

import type { CommandRow } from './table.js'
import {
  geoaddCommand, geohashCommand, geoposCommand, geodistCommand, georadiusGeneric,
  RADIUS_COORDS, RADIUS_MEMBER, RADIUS_NOSTORE, GEOSEARCH, GEOSEARCHSTORE,
} from '../geo.js'

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'geo' }

export const geoCommands: CommandRow[] = [
  { name: 'geoadd', arity: -5, flags: ['write', 'denyoom'], ...k1, handler: geoaddCommand, summary: 'Adds one or more members to a geospatial index. The key is created if it doesn\'t exist.', since: '3.2.0' },
  { name: 'geohash', arity: -2, flags: ['readonly'], ...k1, handler: geohashCommand, summary: 'Returns members from a geospatial index as geohash strings.', since: '3.2.0' },
  { name: 'geopos', arity: -2, flags: ['readonly'], ...k1, handler: geoposCommand, summary: 'Returns the longitude and latitude of members from a geospatial index.', since: '3.2.0' },
  { name: 'geodist', arity: -4, flags: ['readonly'], ...k1, handler: geodistCommand, summary: 'Returns the distance between two members of a geospatial index.', since: '3.2.0' },
  { name: 'georadius', arity: -6, flags: ['write', 'denyoom', 'movablekeys'], ...k1, handler: (c) => georadiusGeneric(c, 1, RADIUS_COORDS), summary: 'Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.', since: '3.2.0' },
  { name: 'georadius_ro', arity: -6, flags: ['readonly'], ...k1, handler: (c) => georadiusGeneric(c, 1, RADIUS_COORDS | RADIUS_NOSTORE), summary: 'Returns members from a geospatial index that are within a distance from a coordinate.', since: '3.2.10' },
  { name: 'georadiusbymember', arity: -5, flags: ['write', 'denyoom', 'movablekeys'], ...k1, handler: (c) => georadiusGeneric(c, 1, RADIUS_MEMBER), summary: 'Queries a geospatial index for members within a distance from a member, optionally stores the result.', since: '3.2.0' },
  { name: 'georadiusbymember_ro', arity: -5, flags: ['readonly'], ...k1, handler: (c) => georadiusGeneric(c, 1, RADIUS_MEMBER | RADIUS_NOSTORE), summary: 'Returns members from a geospatial index that are within a distance from a member.', since: '3.2.10' },
  { name: 'geosearch', arity: -7, flags: ['readonly'], ...k1, handler: (c) => georadiusGeneric(c, 1, GEOSEARCH), summary: 'Queries a geospatial index for members inside an area of a box or a circle.', since: '6.2.0' },
  { name: 'geosearchstore', arity: -8, flags: ['write', 'denyoom'], firstKey: 1, lastKey: 2, step: 1, group: 'geo', handler: (c) => georadiusGeneric(c, 2, GEOSEARCH | GEOSEARCHSTORE), summary: 'Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.', since: '6.2.0' },
]
