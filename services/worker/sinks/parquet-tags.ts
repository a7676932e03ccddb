// The tags column (MAP<STRING,STRING>) of a Parquet row group, written from the columns' tag-set
// indices. hyparquet-writer derives a nested column's repetition and definition levels by walking
// every row's value through the schema (its Dremel encoder: a normalised copy of each map and
// several calls per entry, per leaf), which was the largest single cost of encoding an object
// (~0.8 s per 1M readings of ~5 s on the encoder thread). A map of strings has one fixed shape, so
// the levels are written here directly; the writer then encodes the two leaf columns as its own.
import type { ParquetWriter } from 'hyparquet-writer'
import type { writeColumn as WriteColumn } from 'hyparquet-writer/src/column.js'
import type { SchemaElement } from 'hyparquet-writer'

export type TagPairs = Array<{ key: string; value: string }>

/** The map's schema elements: tags (OPTIONAL, MAP), key_value (REPEATED), key, value. */
export const TAGS_SCHEMA: SchemaElement[] = [
  { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]

export interface LeafPages { values: Array<string | undefined>; definitionLevels: number[]; repetitionLevels: number[]; maxDefinitionLevel: number }

/**
 * A leaf's values and levels for rows [start, end), as the Dremel encoding gives them: a row
 * without tags is one slot at definition 0, an empty map one at 1, each pair a slot at 2 (key;
 * the value 3, or 2 when null), the first pair of a row at repetition 0 and the rest at 1.
 */
export function tagLeafPages(leaf: 'key' | 'value', tagIndex: number[], tagSets: TagPairs[], start: number, end: number): LeafPages {
  const values: Array<string | undefined> = []
  const definitionLevels: number[] = []
  const repetitionLevels: number[] = []
  for (let row = start; row < end; row++) {
    const set = tagIndex[row]
    const pairs = set < 0 ? null : tagSets[set]
    if (!pairs?.length) {
      values.push(undefined)
      definitionLevels.push(pairs ? 1 : 0)
      repetitionLevels.push(0)
      continue
    }
    for (let i = 0; i < pairs.length; i++) {
      const v = leaf === 'key' ? pairs[i].key : pairs[i].value
      values.push(v)
      definitionLevels.push(leaf === 'key' || v === null || v === undefined ? 2 : 3)
      repetitionLevels.push(i ? 1 : 0)
    }
  }
  return { values, definitionLevels, repetitionLevels, maxDefinitionLevel: leaf === 'key' ? 2 : 3 }
}

/**
 * Appends the tags column's two leaf chunks for rows [start, end) to the row group `pq` wrote
 * last (tags is the schema's last column, so its chunks follow the others), as write() records
 * a column: chunk metadata, page indexes for the footer, the group's sizes.
 */
export function appendTagsColumn(pq: ParquetWriter, writeColumn: typeof WriteColumn, tagIndex: number[], tagSets: TagPairs[], start: number, end: number): void {
  const group = pq.row_groups[pq.row_groups.length - 1]
  const from = pq.writer.offset
  const root = pq.schema[0]
  for (const leaf of ['key', 'value'] as const) {
    const element = TAGS_SCHEMA[leaf === 'key' ? 2 : 3]
    const result = writeColumn({
      writer: pq.writer,
      column: {
        columnName: `tags.key_value.${leaf}`, element, schemaPath: [root, TAGS_SCHEMA[0], TAGS_SCHEMA[1], element],
        codec: pq.codec, compressors: pq.compressors, statisticsTruncateLength: pq.statisticsTruncateLength, pageSize: 1048576,
        // no min/max for the map's keys and values: readers prune row groups on columns, not inside a map
        stats: false, columnIndex: false, offsetIndex: true,
      },
      pageData: tagLeafPages(leaf, tagIndex, tagSets, start, end),
    })
    group.columns.push(result.chunk)
    pq.pendingIndexes.push(result)
    group.total_byte_size += result.chunk.meta_data?.total_uncompressed_size ?? 0n
  }
  group.total_compressed_size = (group.total_compressed_size ?? 0n) + BigInt(pq.writer.offset - from)
}
