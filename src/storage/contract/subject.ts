import { afterEach, beforeEach } from 'vitest'

/** A store on fresh, empty storage, and how to let go of it (close connections, delete files). */
export interface Opened<T> {
  store: T
  close(): Promise<void>
}

/** Opens a store on fresh, empty storage: called once per test. */
export type Open<T> = () => Promise<Opened<T>>

/** The store of the test running now. */
export interface Subject<T> {
  readonly store: T
  /** Closes the storage now rather than after the test (to see what a close leaves). */
  close(): Promise<void>
}

/** Opens a fresh store before each test of the enclosing `describe` and closes it after. */
export function eachTest<T>(open: Open<T>): Subject<T> {
  let opened: Opened<T> | undefined
  let closed = false
  beforeEach(async () => {
    opened = await open()
    closed = false
  })
  afterEach(async () => {
    if (!closed) await opened?.close()
  })
  return {
    get store() {
      if (!opened) throw new Error('the store is opened before each test')
      return opened.store
    },
    async close() {
      closed = true
      await opened?.close()
    },
  }
}
