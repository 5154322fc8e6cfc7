/**
 * A room name as one topic level, exactly as the rules' topicLevel() writes
 * it (src/sql/topic-level.ts): `/`, `+`, `#`, `%` and control characters
 * percent-encoded, a leading `$` as `%24`, `.` and `..` as `%2E` and
 * `%2E%2E`, and the empty name as `%`. The rules publish a room on
 * `chat/pub/${topicLevel(room)}` and store its history under that level;
 * the functions read and publish with the same key.
 */
const ESCAPED = /[%/+#\u0000-\u001f\u007f-\u009f]/g

export function topicLevel(room) {
  if (room === '') return '%'
  if (room === '.') return '%2E'
  if (room === '..') return '%2E%2E'
  const level = room.replace(ESCAPED, (c) => encodeURIComponent(c))
  return level.startsWith('$') ? `%24${level.slice(1)}` : level
}
