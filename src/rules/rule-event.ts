import type { ActionEvent, Template } from '../actions/action.js'
import type { Lineage } from '../publisher/lineage.js'
import type { SqlContext } from '../sql/index.js'
import type { CompiledRule } from './rule-set.js'

/**
 * One message waiting for its rules: the SQL's view of it, with what the
 * engine needs beside. One object per message, as a queue of them may be long.
 */
export interface Work extends SqlContext {
  rules: readonly CompiledRule[]
  payload: Buffer
  lineage: Lineage
  /** The console's trace of this message, while someone watches it. */
  trace?: string | undefined
}

/** Stands for an output that is the payload's own document, made when first read. */
export const PAYLOAD = Symbol('the payload')

/**
 * One message as a rule's actions see it. A class rather than an object
 * literal: with the output's getter, a literal is built the slow way, as a
 * dictionary of about a kilobyte, for every message a rule passes.
 */
export class RuleEvent implements ActionEvent {
  readonly rule: string
  readonly outputIsPayload: boolean
  readonly #query: CompiledRule['query']
  readonly #work: Work
  #output: unknown

  constructor(rule: CompiledRule, work: Work, output: unknown) {
    this.rule = rule.name
    this.outputIsPayload = rule.query.selectsPayload
    this.#query = rule.query
    this.#work = work
    this.#output = output
  }

  // The message's own fields are read from it, not copied for each rule it passes.
  get topic(): string {
    return this.#work.topic
  }

  get clientId(): string | undefined {
    return this.#work.clientId
  }

  get principal(): string | undefined {
    return this.#work.principal
  }

  get timestamp(): number {
    return this.#work.timestamp
  }

  get payload(): Buffer {
    return this.#work.payload
  }

  get lineage(): Lineage {
    return this.#work.lineage
  }

  get trace(): string | undefined {
    return this.#work.trace
  }

  get output(): unknown {
    if (this.#output === PAYLOAD) this.#output = this.#query.run(this.#work).output
    return this.#output
  }

  fill(template: Template): string {
    // Not the output: a template's expressions read the message, not the SELECT's result (TemplateEnv).
    return template.constant ? template.source : template.render({ ctx: this.#work })
  }
}
