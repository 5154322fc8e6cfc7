import type { Claimant, DeliveryContext, NewDelivery } from '../outbox-store.js'

/** Dispatchers on three nodes; their leases differ so that a claim shows whose it is. */
export const a: Claimant = { worker: 'node-a/1', leaseMs: 60_000 }
export const b: Claimant = { worker: 'node-b/1', leaseMs: 30_000 }
export const c: Claimant = { worker: 'node-c/1', leaseMs: 45_000 }

export function context(n: number): DeliveryContext {
  return { clientId: `device-${n}`, topic: `sensors/${n}`, rule: 'readings', requestId: `req-${n}`, timestamp: 1_700_000_000_000 + n, hops: 1, fromLoop: false }
}

export function delivery(target: string, n = 0): NewDelivery {
  return { target, event: { n }, context: context(n) }
}

export const ids = (deliveries: readonly { id: number }[]): number[] => deliveries.map((d) => d.id)

/** Resolves once the clock has moved past `t`, so that a time kept from `t` can be told from one taken now. */
export async function clockPast(t: number): Promise<void> {
  while (Date.now() <= t) await new Promise((resolve) => setTimeout(resolve, 1))
}
