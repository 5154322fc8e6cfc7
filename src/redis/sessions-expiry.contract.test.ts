import mqemitter from 'mqemitter'
import { useRedisForFile } from '../../test/helpers/redis.js'
import { sessionExpiryContract } from '../storage/contract/session-expiry.contract.js'
import { RedisSessionStore } from './sessions.js'

// Each store the suite opens on a fresh key prefix, over a connection of its own, with a broker of its own.
const redis = useRedisForFile()
sessionExpiryContract('Redis', async () => {
  const opened = await redis.open((connection, keyPrefix) => new RedisSessionStore({ redis: connection, keyPrefix }))
  const mq = mqemitter()
  const broker = { id: 'broker-1', publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) }
  await opened.store.setup(broker)
  return {
    store: opened.store,
    async close() {
      await opened.store.destroy()
      await opened.close()
    },
  }
})
