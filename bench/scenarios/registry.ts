import { fanIn } from './fan-in.js'
import { fanOut } from './fan-out.js'
import { fixedRateLatency } from './fixed-rate-latency.js'
import { idleConnections } from './idle-connections.js'
import { chatRuleLatency } from './chat-rules.js'
import { clusterFanOut, clusterFunctions, clusterIdleWebSockets, clusterLatency } from './cluster.js'
import { functionInvocations } from './functions.js'
import { ruleCount } from './rule-count.js'
import type { Scenario } from './scenario.js'
import { storeAction } from './store-delivery.js'

/** Every scenario of the plan, in report order. A new scenario is one file and one line here. */
export const scenarios: readonly Scenario[] = [
  fanOut,
  fixedRateLatency,
  fanIn,
  chatRuleLatency,
  ruleCount,
  storeAction,
  functionInvocations,
  idleConnections,
  clusterFanOut,
  clusterLatency,
  clusterIdleWebSockets,
  clusterFunctions,
]
