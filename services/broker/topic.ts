// Telemetry topic filters like `devices/+id/telemetry` or `sensors/+id/#`: `+id` marks the level
// that names the device. Compiled once into a matcher that does no allocation beyond the split.

export type TopicMatcher = (topic: string) => string | null

export function compileTopicPattern(pattern: string): TopicMatcher {
  const levels = pattern.split('/')
  const idAt = levels.indexOf('+id')
  const hashAt = levels.indexOf('#')
  return (topic) => {
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
}
