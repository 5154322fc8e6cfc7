/**
 * A small horizontal bar chart as standalone SVG: one panel per case, each
 * with its own scale, a bar per broker. Written by hand because it is all
 * the benchmark needs and a charting library would be a large dependency.
 */

export interface Bar {
  label: string
  /** Absent when the broker has no figure (not available, failed). */
  value: number | undefined
  /** Shown after the value, e.g. "generator-bound". */
  note?: string | undefined
  color: string
}

export interface Panel {
  title: string
  unit: string
  decimals: number
  bars: Bar[]
}

const WIDTH = 820
const LABEL_WIDTH = 290
// About the width of a character of the 12 px labels: longer labels (the baseline's) widen the chart rather than run off its left edge.
const LABEL_CHAR_WIDTH = 6.5
const VALUE_SPACE = 200
const BAR_HEIGHT = 18
const BAR_GAP = 6
const PANEL_HEAD = 30
const PANEL_GAP = 14
const TITLE_HEIGHT = 34

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function renderChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const parts: string[] = []
  let y = TITLE_HEIGHT + 16
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_SPACE
  const longest = Math.max(0, ...panels.flatMap((p) => p.bars.map((b) => b.label.length)))
  const labelWidth = Math.max(LABEL_WIDTH, Math.ceil(longest * LABEL_CHAR_WIDTH) + 16)
  const chartWidth = WIDTH + labelWidth - LABEL_WIDTH
  for (const panel of panels) {
    parts.push(`<text x="12" y="${y + 18}" class="panel">${escape(panel.title)}</text>`)
    y += PANEL_HEAD
    const max = Math.max(...panel.bars.map((b) => b.value ?? 0), Number.MIN_VALUE)
    for (const bar of panel.bars) {
      const mid = y + BAR_HEIGHT / 2 + 4
      parts.push(`<text x="${labelWidth - 8}" y="${mid}" class="label" text-anchor="end">${escape(bar.label)}</text>`)
      if (bar.value === undefined || !Number.isFinite(bar.value)) {
        parts.push(`<text x="${labelWidth + 4}" y="${mid}" class="missing">${escape(bar.note ?? 'no figure')}</text>`)
      } else {
        const width = Math.max(1, (bar.value / max) * plotWidth)
        const value = bar.value.toLocaleString('en-US', { minimumFractionDigits: panel.decimals, maximumFractionDigits: panel.decimals })
        parts.push(`<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${bar.color}" rx="2"/>`)
        parts.push(`<text x="${(labelWidth + width + 6).toFixed(1)}" y="${mid}" class="value">${escape(`${value} ${panel.unit}${bar.note ? ` (${bar.note})` : ''}`)}</text>`)
      }
      y += BAR_HEIGHT + BAR_GAP
    }
    y += PANEL_GAP
  }
  const height = y + 8
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${chartWidth}" height="${height}" viewBox="0 0 ${chartWidth} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    '<style>.title{font-size:17px;font-weight:600}.sub{font-size:12px;fill:#555}.panel{font-size:14px;font-weight:600}.label{font-size:12px}.value{font-size:12px}.missing{font-size:12px;fill:#a00;font-style:italic}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" class="title">${escape(title)}</text>`,
    `<text x="12" y="${TITLE_HEIGHT + 8}" class="sub">${escape(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}
