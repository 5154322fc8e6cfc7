import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { decodePacket, encodePacket } from './packet-codec.js'

// Through a real row, since what SQLite hands back (BLOB or TEXT, an empty
// BLOB) is part of the round trip.
const db = new Database(':memory:')
db.exec('CREATE TABLE t (payload ANY, packet BLOB NOT NULL) STRICT')
const insert = db.prepare<[Buffer | Uint8Array | string | null, Buffer]>('INSERT INTO t (payload, packet) VALUES (?, ?) RETURNING payload, packet')
afterAll(() => db.close())

function roundTrip(packet: object) {
  const encoded = encodePacket(packet)
  const row = insert.get(encoded.payload, encoded.packet) as { payload: Buffer | string | null; packet: Buffer }
  return decodePacket(row.payload, row.packet)
}

describe('packet codec', () => {
  it.each([
    ['a Buffer payload', { cmd: 'publish', topic: 't', payload: Buffer.from([0, 255]), qos: 1, messageId: undefined }],
    ['a string payload', { cmd: 'publish', topic: 't', payload: 'text', qos: 0 }],
    ['an empty payload', { cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 2, messageId: 7 }],
    ['no payload at all', { cmd: 'pubrel', messageId: 7 }],
    ['MQTT 5 properties with Buffers', {
      cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, brokerId: 'b', brokerCounter: 3,
      properties: { correlationData: Buffer.from('id'), userProperties: { k: ['a', 'b'] }, messageExpiryInterval: 60 },
      messageExpiry: 1_700_000_000_000,
    }],
  ])('keeps %s exactly', (_, packet) => {
    expect(roundTrip(packet)).toStrictEqual(packet)
  })

  it('keeps a Buffer a Buffer and a string a string', () => {
    expect(Buffer.isBuffer(roundTrip({ payload: Buffer.from('x') }).payload)).toBe(true)
    expect(roundTrip({ payload: 'x' }).payload).toBe('x')
  })

  it('leaves out functions, such as the write callback Aedes hangs on a packet', () => {
    expect(roundTrip({ cmd: 'pubrel', messageId: 1, writeCallback: () => {} })).toStrictEqual({ cmd: 'pubrel', messageId: 1 })
  })
})
