import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { topicMatches } from '../topics/match.js'
import { createSqlitePersistence, type SqlitePersistence } from './index.js'
import { topicRange } from './retained-ranges.js'

let persistence: SqlitePersistence
beforeEach(async () => {
  persistence = createSqlitePersistence()
  await persistence.setup({ id: 'broker' })
})
afterEach(() => persistence.destroy())

async function retain(topics: readonly string[]) {
  for (const topic of topics) {
    await persistence.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(`on ${topic}`), qos: 0, retain: true })
  }
}
async function matched(filters: string[]): Promise<string[]> {
  const packets = (await persistence.createRetainedStreamCombi(filters).toArray()) as Array<{ topic: string }>
  return packets.map((p) => p.topic)
}

describe('topicRange', () => {
  it('bounds the rows by the levels before the first wildcard', () => {
    expect(topicRange('sensors/+/temp')).toEqual({ from: 'sensors', to: 'sensors0' })
    expect(topicRange('a/b/#')).toEqual({ from: 'a/b', to: 'a/b0' })
    expect(topicRange('/+')).toEqual({ from: '', to: '0' })
    expect(topicRange('#')).toEqual({ from: '', to: null })
    expect(topicRange('+/x')).toEqual({ from: '', to: null })
  })
})

describe('retained messages by filter', () => {
  it("matches a filter's parent level with '#', and not its neighbours", async () => {
    await retain(['sport', 'sport/tennis', 'sport/tennis/player1', 'sports', 'sport-x', 'sport.x', 'spor'])
    expect((await matched(['sport/#'])).sort()).toEqual(['sport', 'sport/tennis', 'sport/tennis/player1'])
    expect(await matched(['sport/+'])).toEqual(['sport/tennis'])
  })

  it('sends a message matched by several filters once', async () => {
    await retain(['a/b', 'a/c', 'b/c'])
    expect((await matched(['a/b', 'a/#', '+/c', '#'])).sort()).toEqual(['a/b', 'a/c', 'b/c'])
  })

  it('reads a range larger than a page', async () => {
    const topics = Array.from({ length: 250 }, (_, i) => `bulk/${String(i).padStart(3, '0')}`)
    await retain([...topics, 'bulk', 'bulkier/x', 'other'])
    expect(await matched(['bulk/+'])).toEqual(topics)
    expect(await matched(['#'])).toHaveLength(253)
  })

  it('finds what a naive scan with the reference matcher finds, for random topics and filters', async () => {
    const random = mulberry32(20240611)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const levels = ['a', 'b', 'ab', '', 'é', '😀', 'a-b', 'a.b', '0', 'A', 'sport', '$SYS', '$x']
    const topics = new Set<string>()
    while (topics.size < 300) {
      const topic = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(levels)).join('/')
      if (topic !== '') topics.add(topic) // [MQTT-4.7.3-1]
    }
    await retain([...topics])

    for (let i = 0; i < 400; i++) {
      const filters = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const depth = 1 + Math.floor(random() * 4)
        const parts = Array.from({ length: depth }, () => (random() < 0.3 ? '+' : pick(levels)))
        if (random() < 0.3) parts[depth - 1] = '#'
        return parts.join('/')
      })
      const expected = [...topics].filter((t) => filters.some((f) => topicMatches(f, t))).sort()
      const got = await matched(filters)
      expect(got.slice().sort(), JSON.stringify(filters)).toEqual(expected)
    }
  })
})

/** A small seeded generator, so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
