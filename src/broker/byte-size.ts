import { z } from 'zod'

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2 }

/** `65536`, `"64KB"`, `"1MB"` in bytes (KB and MB are powers of 1024, as in EMQX). */
export const byteSize = z.union([z.number(), z.string()], { error: 'must be a size in bytes, or a string such as 64KB or 1MB' })
  .transform((value, ctx) => {
    const match = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(String(value))
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `must be a size such as 65536, 64KB or 1MB, not ${JSON.stringify(value)}` })
      return z.NEVER
    }
    return Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]!
  })
