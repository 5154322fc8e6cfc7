/**
 * The fixed Redis keys of the outbox, all under `${prefix}outbox:`, in the
 * order every outbox script takes them (see outbox-scripts.ts). The keys of
 * one address are built in the scripts from the base: `target:<address>`,
 * `held:<address>`, `dead-target:<address>`. No fixed key begins with
 * those parts, so an address, whatever it holds, never gives a fixed key.
 */
export function outboxKeys(prefix: string): { base: string; keys: string[] } {
  const base = `${prefix}outbox:`
  const keys = [
    // HASH id -> the delivery (see outbox-scripts.ts for its fields).
    'deliveries',
    // ZSET id (16 digits) -> when it falls due: what claimDue takes, neither held, claimed nor of an address in order.
    'due',
    // ZSET id -> when the claim's lease runs out: every claimed delivery.
    'leases',
    // HASH id -> the worker that claimed it.
    'workers',
    // HASH address -> the id last claimed for it ('' none): the addresses in order.
    'in-order',
    // The counter of delivery ids.
    'next-id',
    // HASH id -> the dead letter.
    'dead',
    // ZSET id -> id: every dead letter, oldest first.
    'dead-ids',
    // The counter of dead letter ids.
    'next-dead-id',
  ]
  return { base, keys: keys.map((key) => base + key) }
}
