import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { styleText } from 'node:util'
import { prettyFactory } from 'pino-pretty'

export interface OutputOptions {
  /** Pino's JSON lines as pino-pretty prints them (one line each); false prints them as they are. */
  pretty: boolean
  /** Colours (prefixes, levels): when the output is a terminal and NO_COLOR is not set. */
  color: boolean
  /** Every name that will print, so that the prefixes line up. */
  names: readonly string[]
}

type Color = Parameters<typeof styleText>[0]
const PALETTE: Color[] = ['cyan', 'magenta', 'yellow', 'green', 'blue']

/**
 * The one terminal every process of the cluster prints to: each line
 * prefixed with its source, `[redis]`, `[node-a]`..., so that lines of
 * different processes can be told apart when they interleave. Pino lines
 * are pretty-printed here rather than piped through `pino-pretty`, which
 * would not parse lines once prefixed.
 */
export class Output {
  readonly #width: number
  readonly #colors = new Map<string, Color>()
  readonly #pretty: ((line: string) => string) | undefined

  constructor(private readonly options: OutputOptions) {
    this.#width = Math.max(...options.names.map((n) => n.length)) + 2
    options.names.filter((n) => n !== 'redis').forEach((name, i) => this.#colors.set(name, PALETTE[i % PALETTE.length]!))
    this.#colors.set('redis', 'red')
    if (options.pretty) {
      const pretty = prettyFactory({ colorize: options.color, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      this.#pretty = (line) => pretty(line).replace(/\n$/, '')
    }
  }

  /** Prints one line of `name`'s output. */
  line(name: string, text: string): void {
    const prefix = `[${name}]`.padEnd(this.#width)
    const shown = this.#pretty && text.startsWith('{') ? this.#pretty(text) : text
    process.stdout.write(`${this.options.color ? styleText(this.#colors.get(name) ?? 'white', prefix) : prefix} ${shown}\n`)
  }

  /** Prints every line of a child's stdout and stderr as `name`'s. */
  follow(name: string, ...streams: Readable[]): void {
    for (const stream of streams) createInterface({ input: stream }).on('line', (text) => this.line(name, text))
  }

  /** A line of the runner itself. */
  say(text: string): void {
    process.stdout.write(`${this.options.color ? styleText('bold', text) : text}\n`)
  }
}
