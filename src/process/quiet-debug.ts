import { createRequire } from 'node:module'
import { dirname } from 'node:path'

/** What is used here of the `debug` package: it makes a logger for a namespace. */
interface CreateDebug {
  (namespace: string): Logger
}

interface Logger {
  (...args: unknown[]): void
  namespace: string
  enabled: boolean
  log: unknown
  useColors: boolean
  color: string | number
  extend(name: string, delimiter?: string): Logger
  destroy(): boolean
}

const QUIET = Symbol.for('switchyard.quiet-debug')
const require = createRequire(import.meta.url)

/**
 * Makes the loggers of the `debug` package free to call while their
 * namespace is off, for every library loaded after this.
 *
 * mqtt-packet calls its loggers several times for each packet it parses or
 * writes (46 calls in its parser, 12 in its writer). A logger of `debug`
 * takes its arguments as a rest parameter, so each call allocates an array
 * even while its namespace is off: under the benchmark's QoS 1 fan-in those
 * arrays were 17 % of all the broker allocated, and so of its scavenges
 * (bench/LIMITS.md, Fan-in). Here the copy of `debug` that mqtt-packet
 * loads (one copy, shared by the libraries whose versions agree) is
 * replaced in Node.js's module cache by one whose loggers, for a namespace
 * that is off when they are made, are empty functions.
 *
 * DEBUG works as before: a namespace it names when the process starts gets
 * `debug`'s own logger. What no longer works is switching on, with a later
 * `debug.enable()`, a logger made while its namespace was off. So this is
 * for the broker's own process (`switchyard start`), not for an application
 * that embeds Switchyard and may use `debug` its own way.
 */
export function quietDebugLoggers(from = 'mqtt-packet'): void {
  const path = require.resolve('debug', { paths: [dirname(require.resolve(`${from}/package.json`))] })
  const debug = require(path) as CreateDebug & { [QUIET]?: true }
  if (debug[QUIET]) return
  const cached = require.cache[path]
  if (!cached) throw new Error(`${path} is not in the module cache`)
  cached.exports = quiet(debug)
}

function quiet(debug: CreateDebug): CreateDebug {
  const make = (namespace: string): Logger => {
    const logger = debug(namespace)
    if (logger.enabled) return logger
    const off = (() => {}) as unknown as Logger
    return Object.assign(off, {
      namespace,
      enabled: false,
      log: logger.log,
      useColors: logger.useColors,
      color: logger.color,
      extend: (name: string, delimiter = ':') => make(`${namespace}${delimiter}${name}`),
      destroy: () => false,
    })
  }
  // The package's own functions (enable, disable, enabled, formatters...) stay as they are.
  return Object.assign(make, debug, { debug: make, default: make, [QUIET]: true as const })
}
