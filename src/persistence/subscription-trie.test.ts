import { describe, expect, it } from 'vitest'
import { SubscriptionTrie } from './subscription-trie.js'

describe('SubscriptionTrie', () => {
  it('keeps shared subscriptions apart: match leaves them out, matchShared finds them by the filter after the group', () => {
    const trie = new SubscriptionTrie()
    trie.add('plain', 'jobs/#', 1, undefined, undefined, undefined)
    trie.add('w1', '$share/workers/jobs/+', 1, undefined, undefined, undefined)
    trie.add('w1', '$share/auditors/jobs/+', 2, undefined, undefined, undefined)
    trie.add('w2', '$share/workers/jobs/+', 2, undefined, undefined, undefined)
    trie.add('w3', '$share/workers/#', 1, undefined, undefined, undefined)
    expect(trie.count).toBe(5)
    expect(trie.match('jobs/a').map((s) => s.clientId)).toEqual(['plain'])
    const shared = trie.matchShared('jobs/a').map((s) => [s.clientId, s.topic, s.qos]).sort()
    expect(shared).toEqual([
      ['w1', '$share/auditors/jobs/+', 2], ['w1', '$share/workers/jobs/+', 1], ['w2', '$share/workers/jobs/+', 2], ['w3', '$share/workers/#', 1],
    ])
    // [MQTT-4.7.2-1]: the filter after the group starting with a wildcard does not match $ topics.
    expect(trie.matchShared('$events/x')).toEqual([])
    trie.remove('w1', '$share/workers/jobs/+')
    expect(trie.matchShared('jobs/a').map((s) => `${s.clientId} ${s.topic}`).sort()).toEqual(['w1 $share/auditors/jobs/+', 'w2 $share/workers/jobs/+', 'w3 $share/workers/#'])
    expect(trie.match('$share/workers/jobs/a')).toEqual([])
  })
})
