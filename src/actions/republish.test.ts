import { describe, expect, it } from 'vitest'
import { ORIGIN } from '../publisher/lineage.js'
import { PAYLOAD, RuleEvent, type Work } from '../rules/rule-event.js'
import type { CompiledRule } from '../rules/rule-set.js'
import { compileSql } from '../sql/index.js'
import { wholeOutput } from './republish.js'

/** The event a `SELECT *` rule without WHERE hands its actions: its output is made only when read. */
function passThrough(payload: Buffer): { event: RuleEvent; work: Work } {
  const query = compileSql("SELECT * FROM 'dev/+/telemetry'")
  const rule = { name: 'copy', query } as unknown as CompiledRule
  const work: Work = { rules: [rule], payload, topic: 'dev/d1/telemetry', clientId: 'd1', timestamp: 0, parsed: undefined, lineage: ORIGIN }
  return { event: new RuleEvent(rule, work, PAYLOAD), work }
}

describe('republish of a whole SELECT * output', () => {
  it.each([
    ['a JSON document', '{ "t": 21.50,  "ok": true }'],
    ['a JSON array', '[1, 2.0]'],
    ['a bare JSON number (binary to the SQL)', '42'],
    ['text that is not JSON', 'temp=21.5; ok'],
    ['a broken document', '{"t": '],
  ])('sends %s as its own bytes, without parsing the payload', (_name, text) => {
    const { event, work } = passThrough(Buffer.from(text))
    expect(Buffer.from(wholeOutput(event)).toString()).toBe(text)
    // Parsed once, the document would be kept on the message for the next rule.
    expect(work.parsed).toBeUndefined()
  })

  it('sends bytes that are not UTF-8 as they are', () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe])
    const { event, work } = passThrough(bytes)
    expect(Buffer.compare(Buffer.from(wholeOutput(event)), bytes)).toBe(0)
    expect(work.parsed).toBeUndefined()
  })
})
