import type { MetricValueWithName, Registry } from 'prom-client'

/**
 * A Prometheus histogram with one label whose values are known up front,
 * for code that observes on every message. prom-client's Histogram hashes
 * the labels on each `observe`, even through `labels()`: that was half a
 * microsecond per QoS 1 delivery in the benchmark. Here an observation is a
 * bucket search and three additions; the text is built when scraped.
 */
export class LatencyHistogram<L extends string> {
  readonly #series = new Map<L, Series>()

  constructor(options: { name: string; help: string; labelName: string; labelValues: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    const bounds = [...options.buckets].sort((a, b) => a - b)
    for (const value of options.labelValues) this.#series.set(value, new Series(bounds))
    const series = this.#series
    const { name, help, labelName } = options
    const metric = {
      name,
      help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      // What Registry reads of a metric when it renders the text.
      async get() {
        const values: Array<MetricValueWithName<string>> = []
        for (const [label, s] of series) {
          let cumulative = 0
          bounds.forEach((bound, i) => {
            cumulative += s.counts[i]!
            values.push({ metricName: `${name}_bucket`, labels: { le: bound, [labelName]: label }, value: cumulative })
          })
          values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', [labelName]: label }, value: s.count })
          values.push({ metricName: `${name}_sum`, labels: { [labelName]: label }, value: s.sum })
          values.push({ metricName: `${name}_count`, labels: { [labelName]: label }, value: s.count })
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values }
      },
      reset() {
        for (const s of series.values()) s.reset()
      },
    }
    // prom-client's types ask for the Metric class; Registry needs only name, get and reset.
    for (const registry of options.registers) registry.registerMetric(metric as never)
  }

  /** The observer of one label value; throws for a value not given up front. */
  series(label: L): (seconds: number) => void {
    const s = this.#series.get(label)
    if (!s) throw new Error(`no series ${label}`)
    return (seconds) => s.observe(seconds)
  }
}

class Series {
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++
        return
      }
    }
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}
