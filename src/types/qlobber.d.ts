// The parts of qlobber (https://github.com/davedoesdev/qlobber) that Switchyard uses.
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string
    wildcard_one?: string
    wildcard_some?: string
    match_empty_levels?: boolean
    max_words?: number
  }
  export class Qlobber<V = unknown> {
    constructor(options?: QlobberOptions)
    add(topic: string, value: V): this
    remove(topic: string, value?: V): this
    match(topic: string): V[]
    test(topic: string, value: V): boolean
    clear(): this
  }
}
