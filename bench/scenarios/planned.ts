import type { Scenario } from './scenario.js'

/*
 * Scenarios whose features are still being built. To measure one, move it to
 * its own file with `cases` (see fan-out.ts for publish/subscribe load, or
 * add a job kind to load/job.ts and load/generator.ts) and drop `pending`.
 */

export const chatRuleLatency: Scenario = {
  number: 4,
  title: 'Chat rule latency',
  short: 'Chat rule',
  method: 'Latency through a chat rule (publish, rule, republish to the room) against a direct publish.',
  cases: [],
  pending: 'not yet measured: needs the chat rule set',
}

export const storeAction: Scenario = {
  number: 6,
  title: 'Store action',
  short: 'Store action',
  method: 'Events stored per second by the store action, and the longest event-loop stall while storing.',
  cases: [],
  pending: 'not yet measured: needs the store action under load and an event-loop stall probe',
}

export const functionInvocations: Scenario = {
  number: 7,
  title: 'Functions',
  short: 'Functions',
  method: 'Function invocations per second through a rule (local worker pool).',
  cases: [],
  pending: 'not yet measured: functions are still being built',
}
