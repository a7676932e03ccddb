// Telemetry topic filters like `devices/+id/telemetry` or `sensors/+id/#`: `+id` marks the level
// that names the device. Compiled once into a matcher that walks the topic in place: the only
// string it makes is the device id (topic.split('/') made an array and a string per level on
// every publish, a few % of the broker's CPU per reading in the ingest profile).

export type TopicMatcher = (topic: string) => string | null

/** The rule, level by level on a split topic; the matcher below must answer exactly as this does. */
export function matchBySplit(levels: string[], topic: string): string | null {
  const idAt = levels.indexOf('+id')
  const hashAt = levels.indexOf('#')
  const parts = topic.split('/')
  if (hashAt >= 0 ? parts.length < hashAt : parts.length !== levels.length) return null
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]
    if (l === '#') break
    // an empty or odd device level still matches: the reading is dead-lettered with the
    // reason instead of passing through unbuffered
    if (l[0] === '+') continue
    if (l !== parts[i]) return null
  }
  return parts[idAt]
}

export function compileTopicPattern(pattern: string): TopicMatcher {
  const levels = pattern.split('/')
  const idAt = levels.indexOf('+id')
  const hashAt = levels.indexOf('#')
  // a filter without +id, or with it after #, keeps the split form (config allows no such filter today)
  if (idAt < 0 || (hashAt >= 0 && idAt > hashAt)) return (topic) => matchBySplit(levels, topic)
  const n = levels.length
  return (topic) => {
    const len = topic.length
    let pos = 0
    let idStart = 0
    let idEnd = 0
    for (let i = 0; i < n; i++) {
      const l = levels[i]
      if (l === '#') return topic.slice(idStart, idEnd)
      // fewer levels than the filter: the previous one ended the topic
      if (pos > len) return null
      let end = topic.indexOf('/', pos)
      if (end < 0) end = len
      if (l[0] === '+') {
        if (i === idAt) { idStart = pos; idEnd = end }
      } else if (end - pos !== l.length || !topic.startsWith(l, pos)) return null
      pos = end + 1
    }
    // more levels than the filter
    return pos === len + 1 ? topic.slice(idStart, idEnd) : null
  }
}
