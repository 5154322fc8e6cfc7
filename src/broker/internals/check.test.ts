import { Aedes } from 'aedes'
import { readFileSync } from 'node:fs'
import { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { DependencyError } from '../../errors.js'
import { checkAedesInternals, EXPECTED_VERSIONS, installedVersions, POINTS, versionDrift, type Probe } from './index.js'

const probes: Array<() => void> = []
afterEach(() => {
  for (const dispose of probes.splice(0)) dispose()
})

/** A client of an Aedes that is never started, as the check makes its own. */
function realProbe(): Probe {
  const broker = new Aedes()
  const client = broker.handle(new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() }))
  probes.push(() => client.close())
  return { broker, client }
}

/**
 * Stand-ins shaped like Aedes 1.2 and mqtt-packet 9.0, which a test then
 * breaks: the one place where the check is handed something other than the
 * real thing.
 */
function standIn() {
  const parserSteps = { _parseLength() {}, _parseString(_maybeBuffer: unknown) {}, _parseConnect() {}, _emitError(_err: Error) {} }
  const parser: Record<string, unknown> = Object.assign(Object.create(parserSteps) as object, {
    _states: ['_parseHeader', '_parseLength', '_parsePayload', '_newPacket'],
    _list: {
      length: 0,
      append(_buf: Buffer) {}, consume(_bytes: number) {}, readUInt8(_at: number) {}, readUInt16BE(_at: number) {}, readUInt32BE(_at: number) {},
      slice: (_start: number, _end: number) => Buffer.alloc(0), toString(_encoding: string, _start: number, _end: number) {},
    },
    settings: {},
    packet: {},
    error: null,
  })
  const clientMethods: Record<string, unknown> = { waitForDrain(_done: unknown) {}, _onError(_err: unknown) {} }
  const client: Record<string, unknown> = Object.assign(Object.create(clientMethods) as object, {
    deliver0(_packet: unknown, _cb: unknown) {},
    deliverQoS(_packet: unknown, _cb: unknown) {},
    duplicates: {},
    subscriptions: {},
    connackSent: false,
    _disconnected: false,
    _nextId: 1,
    connecting: false,
    connected: false,
    clean: true,
    errored: false,
    _parser: parser,
    _eos() {},
  })
  parser.client = client
  client.conn = { client }
  const broker: Record<string, unknown> = {
    publish(_packet: unknown, _client: unknown, _done: unknown) {},
    registerClient(_client: unknown) {},
    _finishRegisterClient(_client: unknown) {},
    subscribe(_topic: unknown, _func: unknown, _done: unknown) {},
    unsubscribe(_topic: unknown, _func: unknown, _done: unknown) {},
    clients: {},
    handle: (_stream: unknown, _req: unknown) => client,
    mq: { _matcher: { match: (_topic: string, _ctx: unknown) => [] } },
  }
  return { broker, client, parser, clientMethods, parserSteps: parserSteps as Record<string, unknown> }
}

describe('the start check of the Aedes internals', () => {
  it.each(POINTS.map((point) => [point.name, point] as const))('finds %s in the installed aedes and mqtt-packet', (_name, point) => {
    expect(point.present(realProbe())).toBe(true)
  })

  it('passes with the installed aedes, on a probe of its own', () => {
    expect(() => checkAedesInternals()).not.toThrow()
  })

  it('passes with stand-ins that have every point: the test below breaks only what it names', () => {
    const { broker, client } = standIn()
    expect(() => checkAedesInternals({ broker, client })).not.toThrow()
  })

  it('names the installed and expected versions and the missing point, in one sentence', () => {
    const { broker, client } = standIn()
    delete broker._finishRegisterClient
    let thrown: unknown
    try {
      checkAedesInternals({ broker, client }, { aedes: '1.3.0', mqttPacket: '9.0.2' })
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(DependencyError)
    expect((thrown as DependencyError).code).toBe('SY_DEPENDENCY')
    expect((thrown as Error).message).toBe(
      'aedes 1.3.0 (with mqtt-packet 9.0.2) is installed, but Switchyard is written for aedes 1.2.0 (with mqtt-packet 9.0.2) and relies on Aedes#_finishRegisterClient(client), which is missing or changed: install the versions Switchyard pins (npm install aedes@1.2.0 mqtt-packet@9.0.2).',
    )
  })

  it('names every point that is missing or has changed shape: a method with other parameters, a property of another type, a step no longer called by name', () => {
    const { broker, client, parser, clientMethods, parserSteps } = standIn()
    clientMethods.waitForDrain = (_done: unknown, _timeout: unknown) => {}
    client.connackSent = 0
    parserSteps._parseString = () => {}
    parser._states = ['_parseHeader', '_parseVarByteNum', '_parsePayload', '_newPacket']
    expect(() => checkAedesInternals({ broker, client }, { aedes: '1.2.0', mqttPacket: '9.1.0' })).toThrow(
      'aedes 1.2.0 (with mqtt-packet 9.1.0) is installed, but Switchyard is written for aedes 1.2.0 (with mqtt-packet 9.0.2) and relies on '
      + 'Client.prototype.waitForDrain(done), Client#connackSent, Parser.prototype._parseLength(), called by name from Parser#_states, Parser.prototype._parseString(maybeBuffer), which are missing or changed',
    )
  })

  it('reads the installed versions from the packages, and they are the ones package.json pins and the internals expect', () => {
    expect(installedVersions()).toEqual(EXPECTED_VERSIONS)
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
    expect(pkg.dependencies.aedes).toBe(EXPECTED_VERSIONS.aedes)
    expect(pkg.dependencies['mqtt-packet']).toBe(EXPECTED_VERSIONS.mqttPacket)
  })

  it('says nothing of the pinned versions, and names other versions that pass the check', () => {
    expect(versionDrift()).toBeUndefined()
    expect(versionDrift({ aedes: '1.2.1', mqttPacket: '9.0.2' })).toBe('aedes 1.2.1 (with mqtt-packet 9.0.2) is installed; Switchyard is written and tested for aedes 1.2.0 (with mqtt-packet 9.0.2). Every point it patches is there, but install the pinned versions to run what was tested.')
  })
})
