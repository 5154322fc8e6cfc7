import { address, type TargetKind } from './target.js'

export type TopicTarget = { kind: 'topic'; topic: string }

/** What a route's topic target keeps in the delivery's spec. */
interface TopicSpec {
  topic: string
  qos: 0 | 1 | 2
}

/** A topic a route publishes the event to, as JSON, with the delivery's lineage. */
export const topicTarget: TargetKind<TopicTarget> = {
  ...address<TopicTarget, 'topic'>('topic', 'topic'),
  async deliver(_target, d, deps) {
    const spec = d.spec as TopicSpec
    const { hops, fromLoop } = d.context
    await deps.publisher.publish({ topic: spec.topic, payload: Buffer.from(JSON.stringify(d.event)), qos: spec.qos, retain: false }, { hops, fromLoop })
  },
}
