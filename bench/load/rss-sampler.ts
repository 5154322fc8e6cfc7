import { rssKb } from '../lib/proc-stats.js'

/**
 * The broker side's RSS (summed over its processes) read every `everyMs`
 * while it runs, keeping the highest reading. A JavaScript broker's RSS is a
 * sawtooth under load (its old generation grows until a mark-compact frees
 * it), so one reading at the end of a window lands anywhere between the
 * floor and the top; the top is what the machine must have.
 */
export class RssSampler {
  #peakKb = 0
  #timer: NodeJS.Timeout | undefined
  readonly #pids: readonly number[]

  constructor(pids: readonly number[]) {
    this.#pids = pids
  }

  /** The sum of the processes' RSS now, in KiB. */
  read(): number {
    return this.#pids.reduce((kb, pid) => kb + rssKb(pid), 0)
  }

  start(everyMs: number): void {
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), everyMs)
  }

  /** Stops sampling (after one last reading) and answers the highest reading. */
  stop(): number {
    clearInterval(this.#timer)
    this.#sample()
    return this.#peakKb
  }

  #sample(): void {
    this.#peakKb = Math.max(this.#peakKb, this.read())
  }
}
