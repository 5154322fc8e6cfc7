/** Numbers for tables: a dash where there is no figure, thousands separated, fixed decimals. */
export function num(value: number | undefined, decimals = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
}

/** A ratio as "1.23×". */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–'
}

/** A relative change as "+4.2 %". */
export function change(value: number): string {
  if (!Number.isFinite(value)) return '–'
  const pct = (value - 1) * 100
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)} %`
}

/** Keeps a table cell on one line. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}
