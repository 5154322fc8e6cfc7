import { templateSchema } from './template-string.js'

/*
 * The URL of an `http` action: a substitution template whose values are
 * percent-encoded, so that a value is data within the part of the URL
 * where the config put it. As it is, a device's `../../admin/reset?x=`
 * in `/devices/${device}/status` would send the request to
 * `/admin/reset?x=/status`: fetch resolves the dot segments (WHATWG URL,
 * "path state"), and `?` starts a query of the device's making. The
 * template's own text is sent as written: the URL's structure is the
 * config's, and there is no way to insert a value raw.
 */

/** A lone surrogate (from a JSON `"\ud800"`) has no UTF-8 form; encodeURIComponent would throw on it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * A value as URL text: every character but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`
 * percent-encoded as UTF-8 (RFC 3986 section 2.1), so `/`, `?`, `#`, `&`,
 * `=` and `%` stay inside the value.
 */
export function encodeUrlValue(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, '\ufffd'))
}

/** The `url` of an http action: compiled as it loads, values percent-encoded. */
export const urlTemplateString = templateSchema(encodeUrlValue)

/**
 * WHATWG URL's single-dot and double-dot path segments: a fetch removes
 * them and the segment before a `..`. Percent-encoding cannot keep a value
 * of exactly `.` or `..` from being one (`%2E` counts as `.`), so a URL
 * whose path has one is not sent.
 */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i

/** True when the path of `url` (an http:// or https:// URL as text) has a `.` or `..` segment. */
export function hasDotSegment(url: string): boolean {
  const afterScheme = url.indexOf('//') + 2
  const pathStart = url.slice(afterScheme).search(/[/?#]/)
  if (pathStart < 0) return false
  const path = url.slice(afterScheme + pathStart).split(/[?#]/, 1)[0]!
  // A backslash separates segments too in an http(s) URL (WHATWG URL, "path state").
  return path.split(/[/\\]/).some((segment) => DOT_SEGMENT.test(segment))
}
