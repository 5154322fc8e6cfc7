/** The Prometheus text of the app at `httpUrl`. */
export async function metricsText(httpUrl: string): Promise<string> {
  return (await fetch(`${httpUrl}/metrics`)).text()
}

/** One sample of /metrics, by exact series name (labels included); undefined when the series is not there. */
export async function metric(httpUrl: string, series: string): Promise<number | undefined> {
  const line = (await metricsText(httpUrl)).split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
