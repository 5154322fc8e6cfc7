/**
 * The times beside messages. A 12-hour clock writes the hour without a
 * leading zero ("9:05 AM", as people write it; `hour: '2-digit'` gives
 * "09:05 AM"); a 24-hour clock keeps it ("09:05"), as its locales write it.
 * `hour: 'numeric'` alone would drop the zero there too.
 */
export function clockFormats(locale = undefined, timeZone = undefined) {
  const { hourCycle } = new Intl.DateTimeFormat(locale, { hour: 'numeric', timeZone }).resolvedOptions()
  const hour = hourCycle === 'h11' || hourCycle === 'h12' ? 'numeric' : '2-digit'
  return {
    timeOfDay: new Intl.DateTimeFormat(locale, { hour, minute: '2-digit', timeZone }),
    dayAndTime: new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', hour, minute: '2-digit', timeZone }),
    full: new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'medium', timeZone }),
    // Which day a time falls on, in the same time zone: YYYY-MM-DD.
    day: new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone }),
  }
}

/** This browser's formats, made once: a message is rendered with them, not with new ones. */
const BROWSER = clockFormats()

/** "9:05 AM" today, "Mon, Jan 15, 9:05 AM" on another day. */
export function formatTime(date, now = new Date(), formats = BROWSER) {
  const sameDay = formats.day.format(date) === formats.day.format(now)
  return sameDay ? formats.timeOfDay.format(date) : formats.dayAndTime.format(date)
}

/** The full date and time, for a tooltip. */
export function formatFull(date, formats = BROWSER) {
  return formats.full.format(date)
}
