import { describe, expect, it } from 'vitest'
import { allowsHost, hostName, listenNames } from './allowed-hosts.js'

describe('hostName', () => {
  it('reads the name of a Host header, without port, case or trailing dot', () => {
    expect(hostName('Chat.Example.COM:8080')).toBe('chat.example.com')
    expect(hostName('localhost.')).toBe('localhost')
    expect(hostName('[::1]:8080')).toBe('::1')
    expect(hostName('10.0.0.7')).toBe('10.0.0.7')
  })

  it('refuses what is not a host', () => {
    for (const header of ['', 'a b', 'evil.example:80:80', 'user@host', 'host/path', '[::1', 'http://host']) expect(hostName(header), header).toBeUndefined()
  })
})

describe('allowsHost', () => {
  const own = listenNames(['0.0.0.0', 'broker.internal', undefined])

  it('allows no Host, IP addresses, localhost and the listeners\' names', () => {
    for (const header of [undefined, '127.0.0.1:1', '192.168.1.20', '[::1]:8080', '[fe80::1]', 'localhost:8080', 'broker.internal:8080']) {
      expect(allowsHost(header, [], own), String(header)).toBe(true)
    }
  })

  it('refuses other names unless listed', () => {
    for (const header of ['evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', 'sub.localhost', '0.0.0.0.evil', 'broker.internal.evil']) {
      expect(allowsHost(header, [], own), header).toBe(false)
    }
    expect(allowsHost('chat.example.com', ['chat.example.com'], own)).toBe(true)
    expect(allowsHost('a.chat.example.com', ['chat.example.com'], own)).toBe(false)
    expect(allowsHost('a.b.example.com', ['.example.com'], own)).toBe(true)
    expect(allowsHost('example.com', ['.example.com'], own)).toBe(true)
    expect(allowsHost('badexample.com', ['.example.com'], own)).toBe(false)
    expect(allowsHost('anything.example', ['*'], own)).toBe(true)
  })
})
