import { expect, it } from 'vitest'
import { formatTarget, parseTarget, type Target } from './index.js'

it('reads every address it writes, and nothing else', () => {
  const targets: Target[] = [
    { kind: 'function', name: 'chat' },
    { kind: 'route', name: 'chat-handler' },
    { kind: 'url', url: 'http://127.0.0.1:8080/hook?a=b:c' },
    { kind: 'topic', topic: 'audit/users' },
  ]
  expect(targets.map(formatTarget)).toEqual(['function:chat', 'route:chat-handler', 'url:http://127.0.0.1:8080/hook?a=b:c', 'topic:audit/users'])
  expect(targets.map((t) => parseTarget(formatTarget(t)))).toEqual(targets)
  for (const address of ['function:', 'functions:chat', 'chat', 'route', '', 'queue:x']) expect(parseTarget(address)).toBeUndefined()
})
