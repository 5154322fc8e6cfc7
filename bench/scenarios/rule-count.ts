import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'

/** Scenario 5: what rules that do not match cost a message (should be next to nothing). */
export const ruleCount: Scenario = {
  number: 5,
  short: 'Rule count',
  title: 'Rule count: 10 against 10,000 non-matching rules',
  method: 'The QoS 1 fan-out of scenario 1 on Switchyard loaded with 10 and with 10,000 rules on `bench/rule/<n>/#`, which no message matches.',
  cases: [
    pubSubCase({ id: 'rule-count-qos1', label: 'QoS 1 fan-out', peers: ['switchyard-10', 'switchyard-10k'], qos: 1, publishers: 10, subscribers: 10 }),
  ],
}
