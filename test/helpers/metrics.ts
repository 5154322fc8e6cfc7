/** The Prometheus text of the app at `httpUrl`. */
export async function metricsText(httpUrl: string): Promise<string> {
  return (await fetch(`${httpUrl}/metrics`)).text()
}

/** One sample of a Prometheus text, by exact series name (labels included); undefined when the series is not there. */
export function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** One sample of /metrics, by exact series name (labels included); undefined when the series is not there. */
export async function metric(httpUrl: string, series: string): Promise<number | undefined> {
  return sampleOf(await metricsText(httpUrl), series)
}
