import { readFileSync } from 'node:fs'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import { ListenError } from '../errors.js'
import type { TlsConfig } from './listen-schema.js'

/**
 * Reads the PEM files named under `tls:` and checks that they make a usable
 * certificate, so a wrong path or a key that does not match its certificate
 * stops the start with one sentence instead of failing every handshake.
 */
export function readTlsFiles(tls: TlsConfig): SecureContextOptions {
  const read = (key: 'cert' | 'key' | 'ca') => {
    const path = tls[key]!
    try {
      return readFileSync(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message
      throw new ListenError(`cannot read tls.${key} ${path}: ${reason}`, { cause: err })
    }
  }
  const options: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } = { cert: read('cert'), key: read('key') }
  if (tls.ca !== undefined) Object.assign(options, { ca: read('ca'), requestCert: true, rejectUnauthorized: true })
  try {
    createSecureContext(options)
  } catch (err) {
    throw new ListenError(`tls.cert ${tls.cert} and tls.key ${tls.key} do not make a usable certificate: ${(err as Error).message}`, { cause: err })
  }
  return options
}
