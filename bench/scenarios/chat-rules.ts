import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'
import { withStallProbe } from './switchyard-probes.js'

/** Scenario 4: what the chat's rules add to a message's way, at a rate a busy chat could see. */
export const chatRuleLatency: Scenario = {
  number: 4,
  title: 'Rule overhead: the chat rules at 1,000 messages per second',
  short: 'Chat rule',
  method: 'The chat example\'s message rules (`chatPub` republishes `chat/out` to `chat/pub/${topicLevel(room)}` at QoS 1, `chatStore` stores `chat/pub/+` in SQLite). 10 publishers send 1,000 QoS 1 messages per second in all to `chat/out`; one subscriber on `chat/pub/+` times each republished copy from the original publish. Beside it, the same broker and rate without a rule in the way (`bench/<i>/x` straight to the subscriber). A run counts only if no message is lost. The longest event-loop stall is measured as in scenario 6.',
  cases: [
    withStallProbe(pubSubCase({
      id: 'chat-rule', label: 'Through the chat rules', peers: ['switchyard-chat'], qos: 1, publishers: 10, subscribers: 1, ratePerSecond: 1000,
      publishTopic: 'chat/out', payloadMembers: ',"room":"bench","message":"hello, room"', filter: 'chat/pub/+',
    })),
    withStallProbe(pubSubCase({ id: 'chat-direct', label: 'Direct, no rule in the way', peers: ['switchyard-chat'], qos: 1, publishers: 10, subscribers: 1, ratePerSecond: 1000 })),
  ],
}
