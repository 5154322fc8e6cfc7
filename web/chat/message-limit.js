/**
 * The longest message, in characters (Unicode code points, as the rule's
 * length() counts them): the chatPub rule drops a longer one, whoever sends
 * it, so the page says so before sending instead of losing it. The box
 * itself takes any length (no maxlength, which cut pasted text silently).
 */
export const MAX_MESSAGE_LENGTH = 2000
/** From here on the composer shows how many characters are left. */
export const COUNT_FROM = 1800

/** The length of what would be sent: the trimmed text, in characters. */
export function messageLength(text) {
  let n = 0
  for (const _ of text.trim()) n++
  return n
}

/** What the composer says about a length: nothing, the characters left, or how many too many. */
export function limitNote(length, locale = undefined) {
  const number = (n) => n.toLocaleString(locale)
  if (length > MAX_MESSAGE_LENGTH) {
    const over = length - MAX_MESSAGE_LENGTH
    return { over: true, text: `${number(over)} character${over === 1 ? '' : 's'} too many: a message holds up to ${number(MAX_MESSAGE_LENGTH)}.` }
  }
  if (length < COUNT_FROM) return { over: false, text: '' }
  const left = MAX_MESSAGE_LENGTH - length
  return { over: false, text: `${number(left)} character${left === 1 ? '' : 's'} left` }
}
