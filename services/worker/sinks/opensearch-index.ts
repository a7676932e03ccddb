// Index names and the index template of the opensearch sink. A reading goes to the index of its
// own day (ts, UTC), so a late reading lands beside its neighbours in time, and retention is
// deleting old indices (ISM) rather than deleting documents.

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** `iot-readings-%Y.%m.%d` → `iot-readings-2026.12.01` for ts in that UTC day. */
export function indexNameFor(pattern: string, ts: number): string {
  const d = new Date(ts)
  return pattern.replace(/%([YmdH%])/g, (_m, f: string) => {
    switch (f) {
      case 'Y': return pad(d.getUTCFullYear(), 4)
      case 'm': return pad(d.getUTCMonth() + 1)
      case 'd': return pad(d.getUTCDate())
      case 'H': return pad(d.getUTCHours())
      default: return '%'
    }
  })
}

/** The index pattern the template applies to: every strftime field (and what follows it) becomes one `*`. */
export function templatePatternOf(pattern: string): string {
  const i = pattern.indexOf('%')
  return i === -1 ? pattern : `${pattern.slice(0, i)}*`
}

/** A data stream's documents carry the reading's ts again under the field OpenSearch requires. */
export const DATA_STREAM_TIMESTAMP = '@timestamp'

/**
 * deviceId and tags keyword (exact match and aggregations), ts/receivedAt date from epoch ms,
 * measures by the JSON type of their first value: numbers double (a measure sent as 21 and later
 * 21.5 must not be fixed to long by its first value), strings keyword, booleans boolean. For a
 * data stream the template declares it (`data_stream`, matched by the stream's exact name), so
 * the first `create` into the name makes OpenSearch create the stream and its backing index.
 */
export function indexTemplate(indexPattern: string, dataStream = false): Record<string, unknown> {
  return {
    index_patterns: [indexPattern],
    priority: 100,
    ...(dataStream ? { data_stream: { timestamp_field: { name: DATA_STREAM_TIMESTAMP } } } : {}),
    template: {
      mappings: {
        dynamic_templates: [
          { measures_long_as_double: { path_match: 'measures.*', match_mapping_type: 'long', mapping: { type: 'double' } } },
          { measures_double: { path_match: 'measures.*', match_mapping_type: 'double', mapping: { type: 'double' } } },
          { measures_strings: { path_match: 'measures.*', match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } },
          { tags_keyword: { path_match: 'tags.*', match_mapping_type: 'string', mapping: { type: 'keyword' } } },
        ],
        properties: {
          ...(dataStream ? { [DATA_STREAM_TIMESTAMP]: { type: 'date', format: 'strict_date_optional_time||epoch_millis' } } : {}),
          deviceId: { type: 'keyword' },
          ts: { type: 'date', format: 'epoch_millis' },
          receivedAt: { type: 'date', format: 'epoch_millis' },
          id: { type: 'keyword' },
        },
      },
    },
    _meta: { managed_by: 'iotbuf' },
  }
}
