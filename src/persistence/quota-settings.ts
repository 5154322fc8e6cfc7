import { NO_QUOTAS, SILENT_REPORT, type QuotaReport, type SessionQuotas } from '../storage/quotas.js'

/** The quotas the SQLite stores read at each write, and where they report; one object, shared, swapped by setQuotas. */
export interface QuotaSettings {
  current: SessionQuotas
  report: QuotaReport
}

export function quotaSettings(): QuotaSettings {
  return { current: NO_QUOTAS, report: SILENT_REPORT }
}
