import type { SwitchyardSetup } from './switchyard.js'

/**
 * What the rule and function scenarios load into Switchyard. Each publisher
 * of the load generator sends JSON whose fixed fields come first (see
 * load/payload.ts), so what a rule or a function makes of a message (its
 * `SELECT *, ...` output) is read by the generator like the message itself.
 */

/** The chat example's two message rules, as in switchyard.yaml: republish to the room, store the room's history. */
export const chatRules: SwitchyardSetup = {
  probeEventLoop: true,
  rules: [
    {
      name: 'chatPub',
      sql: "SELECT *, clientId() AS clientId, timestamp() AS timestamp, newuuid() AS id FROM 'chat/out' WHERE NOT isUndefined(message) AND NOT isUndefined(room)",
      actions: [{ republish: { topic: 'chat/pub/${topicLevel(room)}', qos: 1 } }],
      errorAction: { republish: { topic: 'errors/rules' } },
    },
    {
      name: 'chatStore',
      sql: "SELECT * FROM 'chat/pub/+'",
      actions: [{ store: { table: 'chat', key: '${topic(3)}', ttl: '24h' } }],
    },
  ],
}

/**
 * Every benchmark message stored by the store action. The table's row limit
 * (100,000 by default, past which the oldest rows go) is raised above what
 * a run writes, so that every event can be found in the file afterwards;
 * the limit is still counted at each append.
 */
export const storeAll: SwitchyardSetup = {
  probeEventLoop: true,
  rules: [{ name: 'keep', sql: "SELECT * FROM 'bench/+/x'", actions: [{ store: { table: 'bench', key: '${topic(2)}', maxRows: 100_000_000 } }] }],
}

/**
 * Every message invokes a local function, which publishes the event on: the
 * subscriber times the round. `answer` only returns its event, for the sync
 * endpoint (`POST /api/functions/answer/invoke`).
 */
export const invokeEcho: SwitchyardSetup = {
  probeEventLoop: true,
  rules: [{ name: 'toEcho', sql: "SELECT * FROM 'bench/+/x'", actions: [{ invoke: { function: 'echo' } }] }],
  functions: { echo: { module: './echo.js', timeout: '3s', concurrency: 32 }, answer: { module: './answer.js', timeout: '3s', concurrency: 32 } },
  files: {
    'echo.js': "export default async function echo(event, ctx) {\n  await ctx.publish(`bench-fn/${ctx.topic.split('/')[1]}`, event, { qos: 0 })\n}\n",
    'answer.js': 'export default async function answer(event) {\n  return event\n}\n',
  },
}
