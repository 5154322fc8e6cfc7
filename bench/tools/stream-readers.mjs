// Usage: node bench/tools/stream-readers.mjs <redis port> <readers>
// Readers of the cluster stream `bench:s`, each reading as a Switchyard node
// does (src/cluster/bus.ts: XREAD COUNT 500 BLOCK 5000 from the last entry
// it saw), until SIGTERM; then prints the entries and reads of each as JSON.
import { Redis } from 'ioredis'

const [port, count] = process.argv.slice(2).map(Number)
let stopping = false
const readers = Array.from({ length: count }, () => ({ redis: new Redis({ port, host: '127.0.0.1' }), entries: 0, reads: 0 }))
for (const reader of readers) {
  void (async () => {
    let last = '$'
    while (!stopping) {
      const answer = await reader.redis.xreadBuffer('COUNT', 500, 'BLOCK', 5000, 'STREAMS', 'bench:s', last)
      const batch = answer?.[0]?.[1]
      if (!batch?.length) continue
      reader.reads++
      reader.entries += batch.length
      last = batch.at(-1)[0].toString()
    }
  })()
}
// Kept alive until SIGTERM, also with no reader.
const alive = setInterval(() => {}, 60_000)
process.once('SIGTERM', () => {
  clearInterval(alive)
  stopping = true
  console.log(JSON.stringify(readers.map(({ entries, reads }) => ({ entries, reads }))))
  for (const reader of readers) reader.redis.disconnect()
  process.exit(0)
})
