/** What a delivery carries besides the event: who and what caused it. */
export interface DeliveryContext {
  clientId: string | null
  topic: string
  rule: string | null
  requestId: string
  /** When the original message arrived, ms since the epoch. */
  timestamp: number
  /** The lineage of the delivery, for the loop guard: see publisher/lineage.ts. */
  hops: number
  fromLoop: boolean
  /** The console's trace of the message that caused it, while one is watched (see console/tracer.ts). */
  trace?: string
}

export interface NewDelivery {
  /** The target's address, as delivery/targets formats it: `function:chat`, `route:chat-handler`, `url:http://...`, `topic:a/b`. */
  target: string
  /** The full target definition, for url and topic targets. */
  spec?: unknown
  event: unknown
  context: DeliveryContext
  /** The route this delivery came through, whose retry policy applies. */
  via?: string | null
}

export interface Delivery extends Required<NewDelivery> {
  id: number
  attempts: number
  /** When it is due; while it is claimed, when the claim's lease runs out. */
  nextAt: number
  createdAt: number
  held: boolean
  lastError: string | null
}

export interface DeadLetter extends Omit<Delivery, 'held' | 'nextAt'> {
  deliveryId: number
  failedAt: number
  error: string
}

export interface DeadLetterFilter {
  target?: string | undefined
  ids?: number[] | undefined
  limit?: number | undefined
}

/** Who claims deliveries, and for how long a claim holds unless renewed. */
export interface Claimant {
  /** Unique to one running dispatcher: a node id with a start-up token. */
  worker: string
  leaseMs: number
}

/**
 * The durable outbox of deliveries to functions, HTTP targets, topics and
 * routes. A delivery is kept from the moment it is recorded until it is made
 * or dead-lettered, so that a crash at any point loses none (at least once).
 *
 * Deliveries are run by claiming them: a claim takes a delivery for one
 * worker for a lease, and no other worker can claim it until that lease runs
 * out; a worker that dies has its claims taken over once they expire. The
 * operations on a claimed delivery (complete, retryLater, hold, retarget,
 * split, deadLetter) end or change the claim; they are meant for the worker
 * that holds it.
 *
 * A released route's backlog is delivered in order, one at a time: `release`
 * puts the route's address in order, and while it is, its deliveries are
 * claimed only through `claimInOrder`, oldest first, and never two at once.
 */
export interface OutboxStore {
  /** Records deliveries, due now; resolves with their ids once durable. */
  record(items: readonly NewDelivery[]): Promise<number[]>
  /** Claims up to `limit` deliveries due at `now` (oldest first) that are not held, in order, or claimed. */
  claimDue(claimant: Claimant, limit: number, now?: number): Promise<Delivery[]>
  /**
   * For each address in order, claims its oldest delivery that is not held
   * when it is due and no other of that address is claimed; an address left
   * with no delivery is no longer in order. At most `limit` in all.
   */
  claimInOrder(claimant: Claimant, limit: number, now?: number): Promise<Delivery[]>
  /** Extends the leases of the worker's claims on `ids`. */
  renew(claimant: Claimant, ids: readonly number[]): Promise<void>
  /** Removes a delivery that was made. */
  complete(id: number): Promise<void>
  /** Ends the claim; the delivery is due again at `nextAt`. */
  retryLater(id: number, attempts: number, nextAt: number, error: string): Promise<void>
  /** Ends the claim and keeps the delivery until its target is released. */
  hold(id: number): Promise<void>
  /** Makes every held delivery to `target` due now and puts `target` in order; resolves with how many. */
  release(target: string): Promise<number>
  /** How many deliveries to `target` are held. */
  heldCount(target: string): Promise<number>
  /** Points a claimed delivery at a concrete target chosen from a route; the claim stays. */
  retarget(id: number, target: string, spec: unknown, via: string | null): Promise<void>
  /** Replaces a claimed delivery by one delivery per target (due now, unclaimed), at once; resolves with their ids. */
  split(delivery: Delivery, targets: ReadonlyArray<{ target: string; spec: unknown }>, via: string): Promise<number[]>
  /** Moves a delivery that will not succeed to the dead letters, at once; resolves with the dead letter's id. */
  deadLetter(delivery: Delivery, error: string): Promise<number>
  /** Dead letters, oldest first (at most 10,000, 100 unless `limit` says). */
  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>
  /** Puts dead letters back as deliveries, due now, with fresh attempts; resolves with the new ids. */
  replay(letters: readonly DeadLetter[]): Promise<number[]>
  /** When the next delivery that is not held falls due (or a lease runs out); undefined when none waits. */
  nextDueAt(): Promise<number | undefined>
  /** Makes every record asked for so far durable now (called at shutdown). */
  flush(): Promise<void>
}
